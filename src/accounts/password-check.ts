import type { Account, AccountStore } from './store.js';
import type { CredentialLimiter } from '../limits/credential-limits.js';

export type PasswordCheck =
  { outcome: 'signed-in'; account: Account } | { outcome: 'wrong' } | { outcome: 'limited'; retryAfter: number; message: string };

/**
 * A password check at a sign-in form: refused outright after too many failures for the
 * username or from the IP address (counted with the password grant's, across instances); a
 * failure is recorded only for wrong credentials.
 */
export async function checkPassword(
  accounts: AccountStore,
  limiter: CredentialLimiter,
  username: string,
  password: string,
  ip?: string,
): Promise<PasswordCheck> {
  const attempt = { username, ip };
  const verdict = await limiter.checkAttempt(attempt);
  if (!verdict.allowed) return { outcome: 'limited', retryAfter: verdict.retryAfter, message: retryMessage(verdict.retryAfter) };
  const account = await accounts.verify(username, password);
  if (account) return { outcome: 'signed-in', account };
  await limiter.recordFailedAttempt(attempt);
  return { outcome: 'wrong' };
}

/** "Try again in 12 minutes." */
function retryMessage(retryAfter: number): string {
  const minutes = Math.ceil(retryAfter / 60);
  const wait = retryAfter < 60 ? `${retryAfter} seconds` : minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return `Too many failed sign-in attempts for this username. Try again in ${wait}.`;
}
