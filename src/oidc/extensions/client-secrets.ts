import { timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';
import { hashClientSecret, HASHED_SECRET_PREFIX } from '../adapter/kysely-adapter.js';
import { sha256 } from '../../crypto/hash.js';

/**
 * Stored client secrets are SHA-256 hashes (see adapter/kysely-adapter.ts). Client authentication awaits
 * this method; the presented secret is always hashed, so a stolen hash is no secret.
 */
export function useHashedClientSecrets(provider: Provider): void {
  provider.Client.prototype.compareClientSecret = async function compare(this: { clientSecret?: string }, actual: string) {
    if (typeof this.clientSecret !== 'string' || typeof actual !== 'string') return false;
    const expected = Buffer.from(hashClientSecret(this.clientSecret));
    const presented = Buffer.from(HASHED_SECRET_PREFIX + sha256(actual));
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  };
}
