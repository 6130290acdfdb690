import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import type { LimitVerdict } from './credential-limits.js';
import { FixedWindows } from './fixed-window.js';

const HOUR = 3600;
/** The whole server takes this many times one address's sign-ups per hour. */
export const SIGNUP_GLOBAL_FACTOR = 10;

/**
 * SIGNUP_RATE_LIMIT: account creations per hour from one IP, and ten times as many for the whole
 * server, counted in the database (every instance together) before the password is hashed. A
 * refused sign-up gives its count back: only the ones that went ahead use up the budget.
 */
export class SignupLimit {
  private readonly windows: FixedWindows;

  constructor(
    db: Kysely<Schema>,
    readonly perIp: number,
  ) {
    this.windows = new FixedWindows(db, 'rate_windows', HOUR);
  }

  async attempt(ip: string): Promise<LimitVerdict> {
    if (this.perIp <= 0) return { allowed: true };
    const subjects = [`signup:ip:${ip}`, 'signup:all'];
    const [byIp, all] = await this.windows.hit(subjects);
    const over = [byIp!.hits > this.perIp ? byIp! : undefined, all!.hits > this.perIp * SIGNUP_GLOBAL_FACTOR ? all! : undefined];
    const waits = over.filter((count) => count !== undefined).map((count) => count.retryAfter);
    if (waits.length === 0) return { allowed: true };
    await this.windows.release(subjects);
    return { allowed: false, retryAfter: Math.max(...waits) };
  }
}
