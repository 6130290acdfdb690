import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';

export interface WindowCount {
  subject: string;
  /** Events counted in the current window (including this one, for hit). */
  hits: number;
  /** Seconds until the current window ends. */
  retryAfter: number;
}

/** The tables that hold fixed windows, with the name of each one's counter column. */
const COUNTER_COLUMN = { rate_windows: 'hits', credential_failures: 'failures' } as const;
export type WindowTable = keyof typeof COUNTER_COLUMN;

/**
 * Fixed-window counters kept in the database, so that every process sharing it counts together.
 * A window starts at a subject's first hit and lasts `windowSeconds`; the next hit after it
 * starts a new one. Each hit is one atomic upsert, so concurrent hits are all counted.
 */
export class FixedWindows {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly table: WindowTable,
    readonly windowSeconds: number,
  ) {}

  private get counter() {
    return sql.ref(COUNTER_COLUMN[this.table]);
  }

  private windowEnd(start: ReturnType<typeof sql.ref>) {
    return sql`${start} + ${this.windowSeconds} * interval '1 second'`;
  }

  private remaining(start: ReturnType<typeof sql.ref>) {
    return sql<number>`greatest(1, ceil(extract(epoch from (${this.windowEnd(start)} - now()))))::int`;
  }

  /** Counts one event for each subject, in one statement; returns each subject's count. */
  async hit(subjects: readonly string[]): Promise<WindowCount[]> {
    const unique = [...new Set(subjects)];
    if (unique.length === 0) return [];
    const table = sql.table(this.table);
    const counter = this.counter;
    const stored = (column: string) => sql.ref(`${this.table}.${column}`);
    const expired = sql`${this.windowEnd(stored('window_start'))} <= now()`;
    const rows = await guarded(() =>
      sql<WindowCount>`
        insert into ${table} (subject, window_start, ${counter})
        values ${sql.join(unique.map((subject) => sql`(${subject}, now(), 1)`))}
        on conflict (subject) do update set
          ${counter} = case when ${expired} then 1 else ${stored(COUNTER_COLUMN[this.table])} + 1 end,
          window_start = case when ${expired} then now() else ${stored('window_start')} end
        returning subject, ${counter} as hits, ${this.remaining(sql.ref('window_start'))} as "retryAfter"`.execute(this.db),
    );
    return rows.rows;
  }

  /** Takes back one hit of each subject's current window (never below zero). */
  async release(subjects: readonly string[]): Promise<void> {
    const unique = [...new Set(subjects)];
    if (unique.length === 0) return;
    const counter = this.counter;
    await guarded(() =>
      sql`
        update ${sql.table(this.table)} set ${counter} = greatest(${counter} - 1, 0)
        where subject in (${sql.join(unique)}) and ${this.windowEnd(sql.ref('window_start'))} > now()`.execute(this.db),
    );
  }

  /** The counts of the subjects' current windows, without counting (0 when no window is open). */
  async peek(subjects: readonly string[]): Promise<WindowCount[]> {
    if (subjects.length === 0) return [];
    const rows = await guarded(() =>
      sql<WindowCount>`
        select subject, ${this.counter} as hits, ${this.remaining(sql.ref('window_start'))} as "retryAfter"
        from ${sql.table(this.table)}
        where subject in (${sql.join([...subjects])}) and ${this.windowEnd(sql.ref('window_start'))} > now()`.execute(this.db),
    );
    return subjects.map((subject) => rows.rows.find((row) => row.subject === subject) ?? { subject, hits: 0, retryAfter: 0 });
  }
}
