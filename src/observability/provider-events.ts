import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { audit, type AuditEvent, type AuditFields, type AuditLogger } from './audit.js';
import type { Metrics } from './metrics.js';
import { SELF_REGISTERED } from '../endpoints.js';

type RevocableToken = { kind: string; clientId?: string; accountId?: string };

/** The request's own logger (middie hands Fastify's request.log to the raw request), else the app's. */
function loggerOf(ctx: KoaContextWithOIDC | undefined, fallback: AuditLogger): AuditLogger {
  const raw = ctx?.req as { log?: AuditLogger } | undefined;
  return raw?.log ?? fallback;
}

function status(err: unknown): number {
  return (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode ?? 500;
}

/**
 * Turns oidc-provider's events into metrics (tokens issued, by grant type) and audit lines
 * (password grant outcomes, revocations, dynamic registrations). Events fire after the adapter
 * stored the row, so every counted token is durable.
 */
export function observeProvider(provider: Provider, metrics: Metrics, appLog: AuditLogger): void {
  const record = (ctx: KoaContextWithOIDC | undefined, event: AuditEvent, fields: AuditFields) => {
    metrics.audited(event);
    audit(loggerOf(ctx, appLog), event, { ip: ctx?.ip, ...fields });
  };

  provider.on('access_token.saved', (token) => metrics.tokenIssued(token.gty, 'access_token'));
  provider.on('client_credentials.saved', () => metrics.tokenIssued('client_credentials', 'access_token'));
  provider.on('refresh_token.saved', (token) => metrics.tokenIssued(token.gty, 'refresh_token'));

  const revoked = (token: RevocableToken) => {
    const ctx = Provider.ctx;
    const reason = ctx?.oidc?.route === 'revocation' ? 'revocation_request' : 'refresh_token_reuse';
    record(ctx, 'token.revoked', { token_type: token.kind, client_id: token.clientId, account: token.accountId, reason });
  };
  provider.on('access_token.destroyed', revoked);
  provider.on('client_credentials.destroyed', revoked);
  provider.on('refresh_token.destroyed', revoked);
  provider.on('grant.revoked', (ctx) => record(ctx, 'grant.revoked', { client_id: ctx.oidc.client?.clientId, route: ctx.oidc.route }));

  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type !== 'password') return;
    record(ctx, 'password_grant.success', { client_id: ctx.oidc.client?.clientId, account: ctx.oidc.account?.accountId });
  });
  provider.on('grant.error', (ctx, err) => {
    if (ctx.oidc.params?.grant_type !== 'password' || !ctx.oidc.client) return;
    const username = typeof ctx.oidc.params.username === 'string' ? ctx.oidc.params.username : undefined;
    const fields = { client_id: ctx.oidc.client.clientId, username };
    if (status(err) === 429) record(ctx, 'password_grant.limited', fields);
    else if (err.error === 'invalid_grant') record(ctx, 'password_grant.failure', fields);
  });

  provider.on('registration_create.success', (ctx, client) => {
    const selfRegistered = (client as unknown as Record<string, unknown>)[SELF_REGISTERED] === true;
    record(ctx, 'client.registered', { client_id: client.clientId, ...(selfRegistered ? { self_registered: true } : {}) });
  });
  provider.on('registration_update.success', (ctx, client) => record(ctx, 'client.updated', { client_id: client.clientId }));
  provider.on('registration_delete.success', (ctx, client) =>
    record(ctx, 'client.deleted', { client_id: client.clientId, via: 'registration_api' }),
  );
}
