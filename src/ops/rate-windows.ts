import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';

export interface WindowCount {
  subject: string;
  /** Requests counted in the current window (including this one, for hit). */
  hits: number;
  /** Seconds until the current window ends. */
  retryAfter: number;
}

/**
 * Fixed-window request counters kept in the database (table rate_windows), so that every
 * process sharing it counts together. A window starts at a subject's first hit and lasts
 * `windowSeconds`; the next hit after it starts a new one.
 */
export class RateWindows {
  constructor(
    private readonly db: Kysely<Schema>,
    readonly windowSeconds = 60,
  ) {}

  private remaining() {
    return sql<number>`greatest(1, ceil(extract(epoch from (window_start + ${this.windowSeconds} * interval '1 second' - now()))))::int`;
  }

  /** Counts one request for each subject, in one statement; returns each subject's count. */
  async hit(subjects: readonly string[]): Promise<WindowCount[]> {
    if (subjects.length === 0) return [];
    const expired = sql<boolean>`rate_windows.window_start <= now() - ${this.windowSeconds} * interval '1 second'`;
    const rows = await guarded(() =>
      this.db
        .insertInto('rate_windows')
        .values(subjects.map((subject) => ({ subject, window_start: sql<Date>`now()`, hits: 1 })))
        .onConflict((oc) =>
          oc.column('subject').doUpdateSet({
            hits: sql`case when ${expired} then 1 else rate_windows.hits + 1 end`,
            window_start: sql`case when ${expired} then now() else rate_windows.window_start end`,
          }),
        )
        .returning(['subject', 'hits', this.remaining().as('retryAfter')])
        .execute(),
    );
    return rows;
  }

  /** The count of a subject's current window, without counting (0 when no window is open). */
  async peek(subject: string): Promise<WindowCount> {
    const row = await guarded(() =>
      this.db
        .selectFrom('rate_windows')
        .select(['subject', 'hits', this.remaining().as('retryAfter')])
        .where('subject', '=', subject)
        .where('window_start', '>', sql<Date>`now() - ${this.windowSeconds} * interval '1 second'`)
        .executeTakeFirst(),
    );
    return row ?? { subject, hits: 0, retryAfter: 0 };
  }
}
