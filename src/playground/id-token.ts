import { compactVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';

export interface IdTokenReport {
  header: Record<string, unknown>;
  payload: JWTPayload;
  checks: { name: string; ok: boolean }[];
}

export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  jwksUri: string;
  /** The nonce sent in the authorization request; absent for an id_token from a refresh. */
  nonce?: string;
  now?: Date;
}

const CLOCK_TOLERANCE_SECONDS = 30;

/** Remote key sets, one per jwks_uri, so keys are fetched once and re-fetched on an unknown kid. */
export class KeySets {
  readonly #sets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  for(jwksUri: string): ReturnType<typeof createRemoteJWKSet> {
    let set = this.#sets.get(jwksUri);
    if (!set) {
      set = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 10_000 });
      this.#sets.set(jwksUri, set);
    }
    return set;
  }
}

function iso(seconds: unknown): string {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : 'missing';
}

/**
 * Decodes an id_token and checks it the way a relying party must (OIDC Core 3.1.3.7):
 * the signature against the issuer's published keys, then iss, aud, exp, iat and nonce.
 * Each check is reported on its own, so a failure says which one.
 */
export async function inspectIdToken(idToken: string, expect: IdTokenExpectations, keySets: KeySets): Promise<IdTokenReport> {
  const header = decodeProtectedHeader(idToken) as Record<string, unknown>;
  const payload = decodeJwt(idToken);
  const now = Math.floor((expect.now ?? new Date()).getTime() / 1000);
  const checks: { name: string; ok: boolean }[] = [];

  let signatureOk = true;
  let signatureProblem = '';
  try {
    await compactVerify(idToken, keySets.for(expect.jwksUri), { algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
  } catch (err) {
    signatureOk = false;
    signatureProblem = `: ${(err as Error).message}`;
  }
  checks.push({
    name: `signature (${String(header.alg)}, key ${String(header.kid)}) verified with ${expect.jwksUri}${signatureProblem}`,
    ok: signatureOk,
  });
  checks.push({ name: `iss is ${expect.issuer}`, ok: payload.iss === expect.issuer });
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  checks.push({ name: `aud includes this client (${expect.clientId})`, ok: audiences.includes(expect.clientId) });
  checks.push({
    name: `exp ${iso(payload.exp)} is in the future`,
    ok: typeof payload.exp === 'number' && payload.exp > now - CLOCK_TOLERANCE_SECONDS,
  });
  checks.push({
    name: `iat ${iso(payload.iat)} is not in the future`,
    ok: typeof payload.iat === 'number' && payload.iat <= now + CLOCK_TOLERANCE_SECONDS,
  });
  if (expect.nonce !== undefined) {
    checks.push({ name: 'nonce is the one this playground sent', ok: payload.nonce === expect.nonce });
  }
  return { header, payload, checks };
}
