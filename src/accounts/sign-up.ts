import type { Account, AccountStore } from './store.js';
import { AccountError, validPassword, validUsername } from './store.js';
import type { HourlyLimit } from '../limits/hourly-limit.js';

export type SignUpResult =
  | { outcome: 'created'; account: Account }
  | { outcome: 'refused'; status: 422; problem: string }
  | { outcome: 'limited'; status: 429; problem: string; retryAfter: number };

/**
 * Creating an account at any form (the home page's, an authorization's): the cheap checks of
 * the username and password first, then the sign-up limit (SIGNUP_RATE_LIMIT, counted before the
 * password is hashed), then the account.
 */
export async function signUp(
  accounts: AccountStore,
  limit: HourlyLimit,
  username: string,
  password: string,
  ip: string,
): Promise<SignUpResult> {
  try {
    validUsername(username);
    validPassword(password);
    const verdict = await limit.attempt(ip);
    if (!verdict.allowed) {
      const minutes = Math.ceil(verdict.retryAfter / 60);
      const problem = `Too many accounts were created just now. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
      return { outcome: 'limited', status: 429, problem, retryAfter: verdict.retryAfter };
    }
    return { outcome: 'created', account: await accounts.create(username, password) };
  } catch (err) {
    if (!(err instanceof AccountError)) throw err;
    return { outcome: 'refused', status: 422, problem: err.message };
  }
}
