import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';

export type LimitVerdict = { allowed: true } | { allowed: false; retryAfter: number };

/** Who is guessing: the username tried and the address the attempt came from. */
export interface CredentialAttempt {
  username: string;
  ip?: string | undefined;
}

const IP_PREFIX = 'ip:';

/**
 * Failed credential checks per subject (a username, an IP, ...) in fixed windows, kept in the
 * database so that every instance sharing it counts together. A username may fail `maxFailures`
 * times per window; an IP address `ipMaxFailures` times (higher: many people may share one
 * address, but one address trying many usernames is password spraying).
 *
 * Callers checking a password use checkAttempt() before and recordFailedAttempt() after a wrong
 * one: both the username and the IP are counted, in one statement each.
 */
export class CredentialLimiter {
  constructor(
    private readonly db: Kysely<Schema>,
    readonly maxFailures = 10,
    readonly windowSeconds = 15 * 60,
    readonly ipMaxFailures = 100,
  ) {}

  /** NUL (which PostgreSQL refuses in text) stands as U+FFFD; overlong names are cut (a subject is a key). */
  static forUsername(username: string): string {
    return `user:${username.trim().toLowerCase().replaceAll('\u0000', '\ufffd').slice(0, 512)}`;
  }

  static forIp(ip: string): string {
    return `${IP_PREFIX}${ip}`;
  }

  static subjects(attempt: CredentialAttempt): string[] {
    const subjects = [CredentialLimiter.forUsername(attempt.username)];
    if (attempt.ip) subjects.push(CredentialLimiter.forIp(attempt.ip));
    return subjects;
  }

  limitFor(subject: string): number {
    return subject.startsWith(IP_PREFIX) ? this.ipMaxFailures : this.maxFailures;
  }

  /** Refused when any of the subjects has used up its failures; Retry-After is the longest wait. */
  async checkAll(subjects: readonly string[]): Promise<LimitVerdict> {
    if (subjects.length === 0) return { allowed: true };
    const rows = await guarded(() =>
      this.db
        .selectFrom('credential_failures')
        .select([
          'subject',
          'failures',
          sql<number>`ceil(extract(epoch from (window_start + ${this.windowSeconds} * interval '1 second' - now())))::int`.as('remaining'),
        ])
        .where('subject', 'in', [...subjects])
        .execute(),
    );
    const waits = rows.filter((row) => row.remaining > 0 && row.failures >= this.limitFor(row.subject)).map((row) => row.remaining);
    if (waits.length === 0) return { allowed: true };
    return { allowed: false, retryAfter: Math.max(1, ...waits) };
  }

  async check(subject: string): Promise<LimitVerdict> {
    return this.checkAll([subject]);
  }

  checkAttempt(attempt: CredentialAttempt): Promise<LimitVerdict> {
    return this.checkAll(CredentialLimiter.subjects(attempt));
  }

  /** Counts one failure for each subject, in one statement. */
  async recordFailures(subjects: readonly string[]): Promise<void> {
    if (subjects.length === 0) return;
    const expired = sql<boolean>`credential_failures.window_start <= now() - ${this.windowSeconds} * interval '1 second'`;
    await guarded(() =>
      this.db
        .insertInto('credential_failures')
        .values([...new Set(subjects)].map((subject) => ({ subject, window_start: sql<Date>`now()`, failures: 1 })))
        .onConflict((oc) =>
          oc.column('subject').doUpdateSet({
            failures: sql`case when ${expired} then 1 else credential_failures.failures + 1 end`,
            window_start: sql`case when ${expired} then now() else credential_failures.window_start end`,
          }),
        )
        .execute(),
    );
  }

  async recordFailure(subject: string): Promise<void> {
    return this.recordFailures([subject]);
  }

  recordFailedAttempt(attempt: CredentialAttempt): Promise<void> {
    return this.recordFailures(CredentialLimiter.subjects(attempt));
  }
}
