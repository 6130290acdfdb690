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

  /** Counts one event for each subject, in one statement; returns each subject's count, in the order asked. */
  async hit(subjects: readonly string[]): Promise<WindowCount[]> {
    const unique = lockOrder(subjects);
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
    const bySubject = new Map(rows.rows.map((row) => [row.subject, row]));
    return [...new Set(subjects)].map((subject) => bySubject.get(subject)!);
  }

  /** Takes back one hit of each subject's current window (never below zero). */
  async release(subjects: readonly string[]): Promise<void> {
    const unique = lockOrder(subjects);
    if (unique.length === 0) return;
    const table = sql.table(this.table);
    const counter = this.counter;
    // An update locks its rows in whatever order its scan meets them; the rows are locked first,
    // in the order hit() locks them, so that a release and a hit sharing two subjects cannot
    // deadlock (each waiting on the row the other holds).
    await guarded(() =>
      sql`
        with locked as (
          select subject from ${table}
          where subject in (${sql.join(unique)}) and ${this.windowEnd(sql.ref('window_start'))} > now()
          order by subject collate "C" for update
        )
        update ${table} set ${counter} = greatest(${counter} - 1, 0)
        from locked where ${sql.ref(`${this.table}.subject`)} = locked.subject`.execute(this.db),
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

/**
 * The subjects once each, in the one order every statement here takes their row locks (their
 * UTF-8 bytes, as PostgreSQL's "C" collation orders them): an insert locks the rows of its values
 * list in turn, so concurrent statements over the same rows never wait on each other in a circle.
 */
export function lockOrder(subjects: readonly string[]): string[] {
  return [...new Set(subjects)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
