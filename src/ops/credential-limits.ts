import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';

export type LimitVerdict = { allowed: true } | { allowed: false; retryAfter: number };

/**
 * Failed credential checks per subject (a username, an IP, ...) in fixed windows, kept in the
 * database so that every instance sharing it counts together.
 */
export class CredentialLimiter {
  constructor(
    private readonly db: Kysely<Schema>,
    readonly maxFailures = 10,
    readonly windowSeconds = 15 * 60,
  ) {}

  static forUsername(username: string): string {
    return `user:${username.trim().toLowerCase()}`;
  }

  async check(subject: string): Promise<LimitVerdict> {
    const row = await guarded(() =>
      this.db
        .selectFrom('credential_failures')
        .select(['failures', sql<number>`ceil(extract(epoch from (window_start + ${this.windowSeconds} * interval '1 second' - now())))::int`.as('remaining')])
        .where('subject', '=', subject)
        .executeTakeFirst(),
    );
    if (!row || row.remaining <= 0 || row.failures < this.maxFailures) return { allowed: true };
    return { allowed: false, retryAfter: Math.max(1, row.remaining) };
  }

  async recordFailure(subject: string): Promise<void> {
    const expired = sql<boolean>`credential_failures.window_start <= now() - ${this.windowSeconds} * interval '1 second'`;
    await guarded(() =>
      this.db
        .insertInto('credential_failures')
        .values({ subject, window_start: sql<Date>`now()`, failures: 1 })
        .onConflict((oc) =>
          oc.column('subject').doUpdateSet({
            failures: sql`case when ${expired} then 1 else credential_failures.failures + 1 end`,
            window_start: sql`case when ${expired} then now() else credential_failures.window_start end`,
          }),
        )
        .execute(),
    );
  }
}
