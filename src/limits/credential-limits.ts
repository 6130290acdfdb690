import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { FixedWindows } from './fixed-window.js';

export type LimitVerdict = { allowed: true } | { allowed: false; retryAfter: number };

/** What a check under the limits came to: its result, wrong credentials, or refused unchecked. */
export type AttemptResult<T> = { outcome: 'passed'; value: T } | { outcome: 'wrong' } | { outcome: 'limited'; retryAfter: number };

/** Who is guessing: the username tried and the address the attempt came from. */
export interface CredentialAttempt {
  username: string;
  ip?: string | undefined;
  /** Counted instead of the username: a second factor's guesses (forSecondFactor), which no username can name. */
  subject?: string | undefined;
}

const IP_PREFIX = 'ip:';

/**
 * Failed credential checks per subject (a username, an IP, ...) in fixed windows, kept in the
 * database so that every instance sharing it counts together. A username may fail `maxFailures`
 * times per window; an IP address `ipMaxFailures` times (higher: many people may share one
 * address, but one address trying many usernames is password spraying).
 *
 * A password is checked through attempt(), which counts the attempt before the check, so that
 * concurrency cannot buy more checks than the limits allow.
 */
export class CredentialLimiter {
  private readonly failures: FixedWindows;

  constructor(
    db: Kysely<Schema>,
    readonly maxFailures = 10,
    readonly windowSeconds = 15 * 60,
    readonly ipMaxFailures = 100,
  ) {
    this.failures = new FixedWindows(db, 'credential_failures', windowSeconds);
  }

  /** NUL (which PostgreSQL refuses in text) stands as U+FFFD; overlong names are cut (a subject is a key). */
  static forUsername(username: string): string {
    return `user:${username.trim().toLowerCase().replaceAll('\u0000', '\ufffd').slice(0, 512)}`;
  }

  /** The codes of an account's second factor, limited as a username's passwords are. */
  static forSecondFactor(accountId: number): string {
    return `2fa:${accountId}`;
  }

  static forIp(ip: string): string {
    return `${IP_PREFIX}${ip}`;
  }

  static subjects(attempt: CredentialAttempt): string[] {
    const subjects = [attempt.subject ?? CredentialLimiter.forUsername(attempt.username)];
    if (attempt.ip) subjects.push(CredentialLimiter.forIp(attempt.ip));
    return subjects;
  }

  limitFor(subject: string): number {
    return subject.startsWith(IP_PREFIX) ? this.ipMaxFailures : this.maxFailures;
  }

  /** Refused when any of the subjects has used up its failures; Retry-After is the longest wait. */
  private async checkAll(subjects: readonly string[]): Promise<LimitVerdict> {
    const counts = await this.failures.peek(subjects);
    const waits = counts.filter((count) => count.hits >= this.limitFor(count.subject)).map((count) => count.retryAfter);
    if (waits.length === 0) return { allowed: true };
    return { allowed: false, retryAfter: Math.max(1, ...waits) };
  }

  /**
   * Runs one credential check under the limits. The attempt is counted for the username and the
   * IP first, in one atomic statement shared by every process, and the check runs only if neither
   * is then over its limit: at most `maxFailures` checks per username (`ipMaxFailures` per IP) run
   * per window, however many arrive at once. A refused attempt and a check that passes (or fails
   * for another reason than wrong credentials) give their count back: only wrong credentials, and
   * checks still in flight, use up the budget. `check` resolves to undefined for wrong credentials.
   */
  async attempt<T>(attempt: CredentialAttempt, check: () => Promise<T | undefined>): Promise<AttemptResult<T>> {
    const subjects = CredentialLimiter.subjects(attempt);
    const counts = await this.failures.hit(subjects);
    const over = counts.filter((count) => count.hits > this.limitFor(count.subject));
    if (over.length > 0) {
      await this.failures.release(subjects);
      return { outcome: 'limited', retryAfter: Math.max(1, ...over.map((count) => count.retryAfter)) };
    }
    let value: T | undefined;
    try {
      value = await check();
    } catch (err) {
      await this.failures.release(subjects);
      throw err;
    }
    if (value === undefined) return { outcome: 'wrong' };
    await this.failures.release(subjects);
    return { outcome: 'passed', value };
  }

  /** The verdict for an attempt without counting it (for operators and tests). */
  checkAttempt(attempt: CredentialAttempt): Promise<LimitVerdict> {
    return this.checkAll(CredentialLimiter.subjects(attempt));
  }

  /** Counts one failure for each subject, in one statement. */
  private async recordFailures(subjects: readonly string[]): Promise<void> {
    await this.failures.hit(subjects);
  }

  /** Counts a failure without a check (for operators and tests). */
  recordFailedAttempt(attempt: CredentialAttempt): Promise<void> {
    return this.recordFailures(CredentialLimiter.subjects(attempt));
  }
}
