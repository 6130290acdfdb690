import type { IncomingMessage } from 'node:http';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { audit, type AuditLogger } from '../observability/audit.js';
import type { Metrics, RateLimitName } from '../observability/metrics.js';
import { FixedWindows } from './fixed-window.js';

const WINDOW_SECONDS = 60;
const ipSubject = (ip: string) => `token:ip:${ip}`;
const clientSubject = (clientId: string) => `token:client:${clientId}`;

/** Who is asking for a token: the address, and the client it says it is (if any). */
export interface TokenRequester {
  ip: string;
  clientId: string | undefined;
}

export interface TokenRefusal {
  limit: RateLimitName;
  retryAfter: number;
}

type Log = AuditLogger & { warn(obj: object, msg?: string): void };

/**
 * TOKEN_RATE_LIMIT: requests per minute at POST /oauth/token, per IP and per client, counted in
 * the database so that every process enforces one budget. An IP is counted on arrival. A client
 * is counted once it has authenticated (so nobody can spend another client's budget by naming
 * it), and checked on arrival against what it has spent.
 */
export class TokenRateLimit {
  private readonly windows: FixedWindows;

  constructor(
    db: Kysely<Schema>,
    private readonly limit: number,
    private readonly metrics: Metrics,
    private readonly log: Log,
  ) {
    this.windows = new FixedWindows(db, 'rate_windows', WINDOW_SECONDS);
  }

  /** Counts the IP and checks both budgets: a refusal (already counted and audited), or undefined. */
  async check(requester: TokenRequester, log: AuditLogger = this.log): Promise<TokenRefusal | undefined> {
    const { ip, clientId } = requester;
    const [[byIp], [byClient]] = await Promise.all([
      this.windows.hit([ipSubject(ip)]),
      clientId ? this.windows.peek([clientSubject(clientId)]) : [],
    ]);
    if (byIp!.hits > this.limit) return this.refuse(log, 'token_ip', byIp!.retryAfter, { ip });
    if (byClient && byClient.hits >= this.limit) return this.refuse(log, 'token_client', byClient.retryAfter, { ip, client_id: clientId });
    return undefined;
  }

  /**
   * Counts each request of an authenticated client, whatever its outcome, before its response
   * leaves: the provider's events start the count, a provider middleware awaits it (so the next
   * request, at any instance, sees it). Returns that middleware, for the pipeline to install.
   */
  countAuthenticatedClients(provider: Provider): (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void> {
    const counting = new WeakMap<IncomingMessage, Promise<void>>();
    const count = (ctx: KoaContextWithOIDC, err?: { error?: string }) => {
      const client = ctx.oidc.client;
      if (!client || err?.error === 'invalid_client') return;
      const hit = this.windows.hit([clientSubject(client.clientId)]).then(
        () => undefined,
        (e: unknown) => this.log.warn({ err: e }, 'could not count a token request'),
      );
      counting.set(ctx.req, hit);
    };
    provider.on('grant.success', (ctx) => count(ctx));
    provider.on('grant.error', (ctx, err) => count(ctx, err));
    return async (ctx, next) => {
      await next();
      await counting.get(ctx.req);
    };
  }

  private refuse(log: AuditLogger, limit: RateLimitName, retryAfter: number, fields: Record<string, string | undefined>): TokenRefusal {
    this.metrics.limited(limit);
    this.metrics.audited('rate_limit.exceeded');
    audit(log, 'rate_limit.exceeded', { limit, ...fields });
    return { limit, retryAfter };
  }
}

/** The client_id of HTTP Basic client authentication (RFC 6749 §2.3.1: form-encoded, then base64). */
export function basicClientId(header: string | undefined): string | undefined {
  const match = header && /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
