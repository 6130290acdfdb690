import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import type { LimitVerdict } from './credential-limits.js';
import { FixedWindows } from './fixed-window.js';

const HOUR = 3600;
/** The whole server takes this many times one address's anonymous registrations per hour. */
export const REGISTRATION_GLOBAL_FACTOR = 10;

/**
 * REGISTRATION_RATE_LIMIT: anonymous client registrations (REGISTRATION=open) per hour from one
 * IP, and ten times as many for the whole server, counted in the database before the provider
 * stores anything. Every attempt counts, a refused one too: registering is cheap to ask and
 * leaves a row behind.
 */
export class RegistrationLimit {
  private readonly windows: FixedWindows;

  constructor(
    db: Kysely<Schema>,
    readonly perIp: number,
  ) {
    this.windows = new FixedWindows(db, 'rate_windows', HOUR);
  }

  async attempt(ip: string): Promise<LimitVerdict> {
    if (this.perIp <= 0) return { allowed: true };
    const [byIp, all] = await this.windows.hit([`registration:ip:${ip}`, 'registration:all']);
    const over = [byIp!.hits > this.perIp ? byIp! : undefined, all!.hits > this.perIp * REGISTRATION_GLOBAL_FACTOR ? all! : undefined];
    const waits = over.filter((count) => count !== undefined).map((count) => count.retryAfter);
    if (waits.length === 0) return { allowed: true };
    return { allowed: false, retryAfter: Math.max(...waits) };
  }
}
