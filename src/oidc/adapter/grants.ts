import { sql, type Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';
import { sha256 } from '../../crypto/hash.js';
import type { Schema } from '../../db/schema.js';
import { guarded } from '../../db/unavailable.js';
import { KyselyAdapter } from './kysely-adapter.js';

/**
 * Grants keep their own id in their payload (`grantId`), so that a Grant can be found again by
 * account and client (the stored key is only a hash of the id). A grant id is no credential:
 * every token's payload already carries it.
 */
export class GrantAdapter extends KyselyAdapter {
  constructor(db: Kysely<Schema>) {
    super('Grant', db);
  }

  override upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    return super.upsert(id, { ...payload, grantId: id }, expiresIn);
  }
}

export interface StoredGrant {
  grantId: string;
  clientId: string;
  /** The OpenID Connect scopes granted (rejected ones removed). */
  scopes: string[];
  issuedAt: Date;
}

function granted(payload: Record<string, unknown>): string[] {
  const scopeOf = (part: unknown) => {
    const scope = (part as { openid?: { scope?: unknown } } | undefined)?.openid?.scope;
    return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
  };
  const rejected = new Set(scopeOf(payload.rejected).filter((s) => s !== 'openid'));
  return scopeOf(payload).filter((s) => !rejected.has(s));
}

/** The account's unexpired Grants (of one client, when given), newest first (`limit` of them), through the grant index. */
export async function grantsOf(db: Kysely<Schema>, accountId: string, clientId?: string, limit?: number): Promise<StoredGrant[]> {
  const rows = await guarded(() => {
    let query = db
      .selectFrom('oidc_payloads')
      .select('payload')
      .where('model', '=', 'Grant')
      .where(sql<string>`payload->>'accountId'`, '=', accountId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]));
    if (clientId !== undefined) query = query.where(sql<string>`payload->>'clientId'`, '=', clientId);
    query = query.orderBy(sql`(payload->>'iat')::bigint`, 'desc');
    return (limit === undefined ? query : query.limit(limit)).execute();
  });
  return rows
    .filter((row) => typeof row.payload.grantId === 'string' && typeof row.payload.clientId === 'string')
    .map((row) => ({
      grantId: row.payload.grantId as string,
      clientId: row.payload.clientId as string,
      scopes: granted(row.payload),
      issuedAt: new Date(Number(row.payload.iat) * 1000),
    }));
}

/**
 * oidc-provider's loadExistingGrant, extended to remembered consent: the Grant this
 * interaction or browser session already uses, else the account's Grant for the client from
 * any earlier session (the newest that covers the scopes asked, else the newest).
 */
export function loadExistingGrant(db: Kysely<Schema>) {
  return async (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const client = oidc.client;
    if (!client) return undefined;
    const known = oidc.result?.consent?.grantId || oidc.session?.grantIdFor(client.clientId);
    if (known) {
      const grant = await oidc.provider.Grant.find(known);
      if (grant || oidc.result?.consent?.grantId) return grant;
    }
    const accountId = oidc.session?.accountId;
    if (!accountId) return undefined;
    const candidates = await grantsOf(db, accountId, client.clientId, 20);
    const asked = [...oidc.requestParamOIDCScopes];
    const covering = candidates.find((g) => asked.every((scope) => g.scopes.includes(scope))) ?? candidates[0];
    return covering ? oidc.provider.Grant.find(covering.grantId) : undefined;
  };
}

/**
 * Ends a grant as the provider's own revocation does (lib/helpers/revoke.js): every token and
 * code issued under it, then the Grant itself.
 */
export async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  await Promise.all(
    [
      provider.AccessToken,
      provider.RefreshToken,
      provider.AuthorizationCode,
      provider.DeviceCode,
      provider.BackchannelAuthenticationRequest,
    ].map((model) => model.revokeByGrantId(grantId)),
  );
  const grant = await provider.Grant.find(grantId);
  if (grant) await grant.destroy();
}

/** Every Grant of the account, expired or not, through the grant index; each revoked as Revoke does. Returns how many. */
export async function revokeGrantsOf(provider: Provider, db: Kysely<Schema>, accountId: string): Promise<number> {
  const rows = await guarded(() =>
    db
      .selectFrom('oidc_payloads')
      .select(sql<string | null>`payload->>'grantId'`.as('grantId'))
      .where('model', '=', 'Grant')
      .where(sql<string>`payload->>'accountId'`, '=', accountId)
      .execute(),
  );
  const ids = rows.map((row) => row.grantId).filter((id): id is string => typeof id === 'string');
  for (const grantId of ids) await revokeGrant(provider, grantId);
  return ids.length;
}

/**
 * Ends the account's OpenID Connect sessions (the provider's Session rows, through their index of
 * migration 0008), but the one of id `exceptSessionId` when given: the next authorization in those
 * browsers asks for a sign-in again. Returns how many ended.
 */
export async function endOidcSessionsOf(db: Kysely<Schema>, accountId: string, exceptSessionId?: string): Promise<number> {
  const result = await guarded(() => {
    let query = db
      .deleteFrom('oidc_payloads')
      .where('model', '=', 'Session')
      .where(sql<string>`payload->>'accountId'`, '=', accountId);
    if (exceptSessionId !== undefined) query = query.where('key', '!=', sha256(exceptSessionId));
    return query.executeTakeFirst();
  });
  return Number(result.numDeletedRows);
}
