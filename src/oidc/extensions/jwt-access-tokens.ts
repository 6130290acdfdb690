import type { IncomingMessage } from 'node:http';
import Provider from 'oidc-provider';
import { compactVerify, createLocalJWKSet, type JWK, type JWTPayload } from 'jose';

/** A compact JWS: three base64url parts (opaque tokens have no dot). */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']);
const ALGORITHMS = ['RS256', 'ES256'];

export const looksLikeJwt = (value: string) => JWT_SHAPE.test(value);

/** The claims of a JWT access token this server signed (RFC 9068: typ at+jwt, our issuer), or undefined. Expiry is not checked here. */
export type VerifyAccessTokenJwt = (value: string) => Promise<(JWTPayload & { jti: string }) | undefined>;

const verifiers = new WeakMap<Provider, VerifyAccessTokenJwt>();

function verifier(issuer: string, jwks: { keys: JWK[] }): VerifyAccessTokenJwt {
  const keySet = createLocalJWKSet({
    keys: jwks.keys.map((key) => Object.fromEntries(Object.entries(key).filter(([name]) => !PRIVATE_MEMBERS.has(name)))),
  });
  return async (value) => {
    if (value.length > 8192 || !looksLikeJwt(value)) return undefined;
    let verified;
    try {
      verified = await compactVerify(value, keySet, { algorithms: ALGORITHMS });
    } catch {
      return undefined;
    }
    if (verified.protectedHeader.typ?.toLowerCase().replace(/^application\//, '') !== 'at+jwt') return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(new TextDecoder().decode(verified.payload));
    } catch {
      return undefined;
    }
    if (!claims || typeof claims !== 'object') return undefined;
    const payload = claims as JWTPayload;
    if (payload.iss !== issuer || typeof payload.jti !== 'string' || !payload.jti) return undefined;
    return payload as JWTPayload & { jti: string };
  };
}

/** How a JWT access token of this provider is checked (undefined before findJwtAccessTokens ran). */
export function accessTokenJwtVerifier(provider: Provider): VerifyAccessTokenJwt | undefined {
  return verifiers.get(provider);
}

/** Requests whose `token` was a JWT access token we signed, handed to the provider as its jti. */
const presentedByJti = new WeakMap<IncomingMessage, string>();

/** The pipeline verified the JWT this request presented and hands the provider its jti instead. */
export function presentJwtByJti(req: IncomingMessage, jti: string): void {
  presentedByJti.set(req, jti);
}

interface StoredToken {
  kind?: unknown;
  format?: unknown;
  exp?: unknown;
}

interface ValueAndPayload {
  value: string;
  payload?: Record<string, unknown>;
}

interface TokenInstance {
  format?: string;
  getValueAndPayload(): Promise<ValueAndPayload>;
}

interface TokenClass {
  find(value: string, options?: { ignoreExpiration?: boolean }): Promise<unknown>;
  instantiate(payload: object): unknown;
  readonly adapter: { find(id: string): Promise<object | undefined> };
  readonly prototype: TokenInstance;
}

/**
 * oidc-provider signs a JWT access token and stores nothing: no revocation, no introspection,
 * and a grant revoked would leave its tokens valid wherever they are checked here. So the
 * record an opaque token would have is stored too, under the jti, marked `format: 'jwt'`: the
 * provider's own lookup refuses such a record (so the bare jti is no token), ours below takes it.
 * The record is the provider's base model's (its opaque format), saved in the same save().
 */
function storeJwtRecords(provider: Provider, Token: TokenClass): void {
  const base = (provider as unknown as { BaseToken: { prototype: object } }).BaseToken.prototype;
  const opaque = (Object.getPrototypeOf(base) as TokenInstance).getValueAndPayload;
  const formatted = Token.prototype.getValueAndPayload;
  if (typeof opaque !== 'function' || typeof formatted !== 'function' || opaque === formatted) {
    throw new Error('oidc-provider internals changed: cannot store JWT access tokens');
  }
  Token.prototype.getValueAndPayload = async function (this: TokenInstance) {
    const result = await formatted.call(this);
    if (this.format !== 'jwt' || result.payload) return result;
    const { payload } = await opaque.call(this);
    return { value: result.value, payload: { ...payload, format: 'jwt' } };
  };
}

/**
 * JWT access tokens (a resource's) are stored under their jti (storeJwtRecords). oidc-provider
 * refuses structured tokens at introspection and revocation, and its lookup by value would not
 * find one anyway. So the pipeline verifies such a JWT (our keys, typ at+jwt, our issuer) and hands
 * the provider its jti (src/oidc/pipeline.ts, presentJwtAsJti); the lookup then finds the stored
 * record of that jti, for that request only: a bare jti sent by anyone finds nothing. The stored
 * record decides the rest, as for an opaque token: a revoked token's record is gone.
 */
export function findJwtAccessTokens(provider: Provider, jwks: { keys: JWK[] }, clockTolerance: number): void {
  verifiers.set(provider, verifier(provider.issuer, jwks));
  for (const [kind, Model] of [
    ['AccessToken', provider.AccessToken],
    ['ClientCredentials', provider.ClientCredentials],
  ] as const) {
    const Token = Model as unknown as TokenClass;
    storeJwtRecords(provider, Token);
    const providerFind = Token.find.bind(Token);
    Token.find = async (value, options) => {
      const req = Provider.ctx?.req;
      if (typeof value !== 'string' || !req || presentedByJti.get(req) !== value) return providerFind(value, options);
      const stored = (await Token.adapter.find(value)) as StoredToken | undefined;
      if (!stored || stored.kind !== kind || stored.format !== 'jwt') return undefined;
      const now = Math.floor(Date.now() / 1000);
      if (!options?.ignoreExpiration && (typeof stored.exp !== 'number' || now - clockTolerance >= stored.exp)) return undefined;
      return Token.instantiate(stored);
    };
  }
}
