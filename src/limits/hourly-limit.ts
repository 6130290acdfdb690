import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import type { LimitVerdict } from './credential-limits.js';
import { FixedWindows } from './fixed-window.js';

const HOUR = 3600;
/** The whole server takes this many times one address's allowance per hour. */
export const GLOBAL_FACTOR = 10;

export interface HourlyLimitOptions {
  /** Names the counted action in the windows' subjects: "<name>:ip:<ip>" and "<name>:all". */
  name: string;
  /** Attempts per hour from one IP; 0 turns the limit off. */
  perIp: number;
  /**
   * Whether a refused attempt still counts. Sign-up gives it back (only accounts that were
   * created use up the budget); anonymous registration keeps it (asking is the cheap part).
   */
  countRefused: boolean;
}

/**
 * An action allowed `perIp` times an hour from one IP and GLOBAL_FACTOR times as often for the
 * whole server, counted in the database (every instance together) before the work it guards:
 * SIGNUP_RATE_LIMIT for account creation, REGISTRATION_RATE_LIMIT for open client registration.
 */
export class HourlyLimit {
  private readonly windows: FixedWindows;

  constructor(
    db: Kysely<Schema>,
    readonly options: HourlyLimitOptions,
  ) {
    this.windows = new FixedWindows(db, 'rate_windows', HOUR);
  }

  async attempt(ip: string): Promise<LimitVerdict> {
    const { name, perIp, countRefused } = this.options;
    if (perIp <= 0) return { allowed: true };
    const subjects = [`${name}:ip:${ip}`, `${name}:all`];
    const [byIp, all] = await this.windows.hit(subjects);
    const waits = [byIp!.hits > perIp ? byIp! : undefined, all!.hits > perIp * GLOBAL_FACTOR ? all! : undefined]
      .filter((count) => count !== undefined)
      .map((count) => count.retryAfter);
    if (waits.length === 0) return { allowed: true };
    if (!countRefused) await this.windows.release(subjects);
    return { allowed: false, retryAfter: Math.max(...waits) };
  }
}
