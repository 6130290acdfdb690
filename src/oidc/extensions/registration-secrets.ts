import type { KoaContextWithOIDC } from 'oidc-provider';
import { sha256 } from '../../crypto/hash.js';
import { HASHED_SECRET_PREFIX } from '../adapter/kysely-adapter.js';

/**
 * RFC 7592 lets a client send its secret back in an update, and the provider compares it
 * with the stored value: a hash here. The presented secret is hashed the same way first, so
 * the right secret matches and anything else (the stored hash itself included) does not.
 * Returns the JSON text to hand the provider (unchanged when there is no secret in it).
 */
export function hashPresentedSecret(raw: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return raw; // the provider answers the parse error itself
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return raw;
  const body = parsed as Record<string, unknown>;
  if (typeof body.client_secret !== 'string') return raw;
  return JSON.stringify({ ...body, client_secret: HASHED_SECRET_PREFIX + sha256(body.client_secret) });
}

/** Whether a request is an RFC 7592 update of a registered client (PUT /oauth/register/:id with JSON). */
export function isRegistrationUpdate(
  method: string | undefined,
  path: string,
  contentType: string | undefined,
  registrationPath: string,
): boolean {
  return method === 'PUT' && path.startsWith(`${registrationPath}/`) && /^application\/json\s*(;|$)/i.test(contentType ?? '');
}

/**
 * A provider middleware around the registration endpoints: no response ever carries the stored
 * hash as if it were the client's secret (a client's secret is shown once, at creation).
 */
export function hideStoredSecretHashes(registrationPath: string) {
  const clientPrefix = `${registrationPath}/`;
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (ctx.path !== registrationPath && !ctx.path.startsWith(clientPrefix)) return;
    const body: unknown = ctx.body;
    if (!body || typeof body !== 'object' || Buffer.isBuffer(body)) return;
    const record = body as Record<string, unknown>;
    if (typeof record.client_secret === 'string' && record.client_secret.startsWith(HASHED_SECRET_PREFIX)) delete record.client_secret;
  };
}
