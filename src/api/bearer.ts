import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { errors, type AdapterPayload } from 'oidc-provider';
import type { Schema } from '../db/schema.js';
import { KyselyAdapter } from '../oidc/adapter/kysely-adapter.js';
import { builtClient } from '../oidc/extensions/client-reuse.js';
import { accessTokenJwtVerifier, looksLikeJwt, type VerifyAccessTokenJwt } from '../oidc/extensions/jwt-access-tokens.js';
import { CLOCK_TOLERANCE_SECONDS } from '../oidc/provider.js';

/** An RFC 6750 refusal: 401 invalid_token or 403 insufficient_scope, said in WWW-Authenticate too. */
export class BearerError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly error: 'invalid_token' | 'insufficient_scope',
    readonly description: string,
    /** No token at all: RFC 6750 §3.1 asks for no error code in the challenge then. */
    readonly missing = false,
  ) {
    super(description);
  }
}

const invalid = (description: string) => new BearerError(401, 'invalid_token', description);

/** A person's token as the API sees it: who, for which client, with which scopes. */
export interface BearerGrant {
  accountId: string;
  clientId: string;
  scopes: Set<string>;
}

const quote = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

/** `resourceMetadata`: where the resource's RFC 9728 metadata is (§5.1), named in every challenge. */
export function sendBearerError(
  reply: FastifyReply,
  realm: string,
  err: BearerError,
  scope: string,
  resourceMetadata: string,
): FastifyReply {
  const params = [`realm=${quote(realm)}`];
  if (!err.missing) params.push(`error=${quote(err.error)}`, `error_description=${quote(err.description)}`);
  params.push(`scope=${quote(scope)}`, `resource_metadata=${quote(resourceMetadata)}`);
  return reply
    .status(err.status)
    .header('WWW-Authenticate', `Bearer ${params.join(', ')}`)
    .header('Cache-Control', 'no-store')
    .send({ error: err.error, error_description: err.description });
}

/** The token of `Authorization: Bearer <token>`; the header is the only place one is read from. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header) : null;
  if (!match) throw new BearerError(401, 'invalid_token', 'no access token provided', true);
  return match[1]!;
}

/** The client, or undefined when it was deleted (or its stored metadata is no longer valid). */
async function findClient(provider: Provider, clientId: string) {
  try {
    return await provider.Client.find(clientId);
  } catch (err) {
    if (err instanceof errors.OIDCProviderError) return undefined;
    throw err;
  }
}

type Stored = Readonly<AdapterPayload> & { nbf?: unknown; format?: unknown };

/**
 * A stored token the provider's own lookup would accept (Model.find: lib/models/formats/opaque.js
 * verify, lib/helpers/jwt.js assertPayload with the provider's clockTolerance, the kind check
 * of lib/models/base_model.js): of this kind, opaque, active and unexpired.
 * test/bearer-contract.test.ts holds both to the same verdicts.
 */
function live(stored: Stored | undefined, kind: string, now: number): stored is Stored {
  if (!stored || (stored.kind ?? kind) !== kind) return false;
  if ('jwt' in stored || 'jwt-ietf' in stored || 'paseto' in stored) return false;
  if (stored.format !== undefined && stored.format !== 'opaque') return false;
  const { nbf, iat, exp, aud } = stored;
  const tolerance = CLOCK_TOLERANCE_SECONDS;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) return false;
  if (iat !== undefined && (typeof iat !== 'number' || (exp === undefined && iat > now + tolerance))) return false;
  if (exp !== undefined && (typeof exp !== 'number' || now - tolerance >= exp)) return false;
  if (aud !== undefined && typeof aud !== 'string' && (!Array.isArray(aud) || aud.some((a) => typeof a !== 'string'))) return false;
  return true;
}

const epochTime = () => Math.floor(Date.now() / 1000);

/**
 * The stored record of a JWT access token (stored by its jti) the provider's lookup with
 * extensions/jwt-access-tokens.ts accepts: of this kind, in JWT format, unexpired, for `audience`.
 */
function liveJwt(stored: Stored | undefined, kind: string, now: number, audience: string): stored is Stored {
  if (!stored || stored.kind !== kind || stored.format !== 'jwt') return false;
  const { exp, aud } = stored;
  if (typeof exp !== 'number' || now - CLOCK_TOLERANCE_SECONDS >= exp) return false;
  return aud === audience;
}

/**
 * Checks bearer tokens as oidc-provider's userinfo endpoint does (lib/shared/access_token.js):
 * the token exists and is unexpired, its client and grant still exist and agree with it, and a
 * token bound to a session needs that session. It reads what the provider stored, through the
 * adapter, without building the provider's models: the token afresh from the database on every
 * request (revocation is seen at once; an unreachable database is a 503, never a 401), its
 * client and grant from the row cache. A client credentials token is valid but has no person:
 * insufficient_scope.
 */
export class BearerTokens {
  readonly #accessTokens: KyselyAdapter;
  readonly #clientTokens: KyselyAdapter;
  readonly #grants: KyselyAdapter;
  readonly #clients: KyselyAdapter;
  readonly #verifyJwt: VerifyAccessTokenJwt | undefined;

  /** `audience`: the resource indicator of this API; a JWT access token must be for it. */
  constructor(
    private readonly provider: Provider,
    db: Kysely<Schema>,
    private readonly audience: string,
  ) {
    this.#verifyJwt = accessTokenJwtVerifier(provider);
    this.#accessTokens = new KyselyAdapter('AccessToken', db);
    this.#clientTokens = new KyselyAdapter('ClientCredentials', db);
    this.#grants = new KyselyAdapter('Grant', db);
    this.#clients = new KyselyAdapter('Client', db);
  }

  async verify(value: string): Promise<BearerGrant> {
    if (looksLikeJwt(value)) return this.#jwt(value);
    if (value.length > 512) throw invalid('access token not found');
    const now = epochTime();
    const accessToken = await this.#accessTokens.findReadOnly(value);
    if (live(accessToken, 'AccessToken', now)) return this.#person(accessToken, now);
    const clientToken = await this.#clientTokens.findReadOnly(value);
    if (!live(clientToken, 'ClientCredentials', now)) throw invalid('access token not found, expired or revoked');
    await this.#checkClient(clientToken);
    throw new BearerError(403, 'insufficient_scope', 'this access token was issued to a client, not for a person');
  }

  /**
   * A JWT access token (RFC 9068, issued for resource=ISSUER/api): signed with the server's keys
   * as `at+jwt` by this issuer, for this API, unexpired; then its stored record (by jti) is held to
   * the checks of an opaque token, so a revoked token (its record, or its grant, gone) is refused.
   */
  async #jwt(value: string): Promise<BearerGrant> {
    const claims = await this.#verifyJwt?.(value);
    if (!claims) throw invalid('access token not signed by this server, or not an access token');
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.audience)) throw invalid('this access token is for another resource');
    const now = epochTime();
    if (typeof claims.exp !== 'number' || now - CLOCK_TOLERANCE_SECONDS >= claims.exp) throw invalid('access token expired');
    const accessToken = await this.#accessTokens.findReadOnly(claims.jti);
    if (liveJwt(accessToken, 'AccessToken', now, this.audience)) return this.#person(accessToken, now);
    const clientToken = await this.#clientTokens.findReadOnly(claims.jti);
    if (!liveJwt(clientToken, 'ClientCredentials', now, this.audience)) throw invalid('access token not found, expired or revoked');
    await this.#checkClient(clientToken);
    throw new BearerError(403, 'insufficient_scope', 'this access token was issued to a client, not for a person');
  }

  async #person(token: Stored, now: number): Promise<BearerGrant> {
    const checked = this.#checkClient(token);
    const clientId = typeof checked === 'string' ? checked : await checked;
    const { accountId, grantId } = token;
    if (token.expiresWithSession && !(await this.#sessionHolds(token))) throw invalid('the session of this access token has ended');
    // From the row cache at once when it holds the grant (no awaiting then).
    const grant =
      typeof grantId === 'string' ? (this.#grants.peekReadOnly(grantId) ?? (await this.#grants.findReadOnly(grantId))) : undefined;
    // A grant is looked up whatever its expiry (as the provider does), then refused if expired.
    if (!grant || (grant.kind ?? 'Grant') !== 'Grant' || (grant.exp as number) <= now) {
      throw invalid('the grant of this access token was revoked or has expired');
    }
    if (grant.clientId !== clientId || grant.accountId !== accountId || typeof accountId !== 'string')
      throw invalid('access token does not match its grant');
    return { accountId, clientId, scopes: new Set(typeof token.scope === 'string' ? token.scope.split(' ') : []) };
  }

  /**
   * The token is not sender-constrained and its client still exists (as the provider builds it
   * from its stored metadata, which must be valid): the client's id. A client the provider built
   * from the cached metadata is known at once, without a lookup or a promise.
   */
  #checkClient(token: Stored): string | Promise<string> {
    if (token.jkt || token['x5t#S256']) throw invalid('sender-constrained access tokens are not accepted here');
    const { clientId } = token;
    const gone = () => invalid('the client of this access token no longer exists');
    if (typeof clientId !== 'string' || !clientId) throw gone();
    const metadata = this.#clients.peekReadOnly(clientId);
    if (metadata !== undefined && builtClient(this.provider, metadata) !== undefined) return clientId;
    return findClient(this.provider, clientId).then((client) => {
      if (!client) throw gone();
      return clientId;
    });
  }

  /** lib/models/token_helpers.js checkSessionBinding: the session is still there, for this account and grant. */
  async #sessionHolds(token: Stored): Promise<boolean> {
    const session = typeof token.sessionUid === 'string' ? await this.provider.Session.findByUid(token.sessionUid) : undefined;
    return !!session && session.accountId === token.accountId && session.grantIdFor(token.clientId as string) === token.grantId;
  }
}
