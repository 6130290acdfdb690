import type { AccountStore, VerifiedAccount } from './store.js';
import { canonicalUsername } from './username.js';
import type { CredentialLimiter } from '../limits/credential-limits.js';

export type PasswordCheck =
  { outcome: 'signed-in'; account: VerifiedAccount } | { outcome: 'wrong' } | { outcome: 'limited'; retryAfter: number; message: string };

/**
 * A password check at a sign-in form, under the credential limits shared with the password
 * grant: the attempt is counted before the password is checked (CredentialLimiter.attempt), so
 * too many failures for the username or from the IP address refuse it unchecked.
 */
export async function checkPassword(
  accounts: AccountStore,
  limiter: CredentialLimiter,
  username: string,
  password: string,
  ip?: string,
): Promise<PasswordCheck> {
  const result = await limiter.attempt({ username: canonicalUsername(username), ip }, () => accounts.verify(username, password));
  if (result.outcome === 'limited') return { outcome: 'limited', retryAfter: result.retryAfter, message: retryMessage(result.retryAfter) };
  if (result.outcome === 'wrong') return { outcome: 'wrong' };
  return { outcome: 'signed-in', account: result.value };
}

/** "Try again in 12 minutes." */
export function retryMessage(retryAfter: number, what = 'sign-in attempts for this username'): string {
  const minutes = Math.ceil(retryAfter / 60);
  const wait = retryAfter < 60 ? `${retryAfter} seconds` : minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return `Too many failed ${what}. Try again in ${wait}.`;
}
