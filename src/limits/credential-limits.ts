import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { FixedWindows } from './fixed-window.js';

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
  private async checkAll(subjects: readonly string[]): Promise<LimitVerdict> {
    const counts = await this.failures.peek(subjects);
    const waits = counts.filter((count) => count.hits >= this.limitFor(count.subject)).map((count) => count.retryAfter);
    if (waits.length === 0) return { allowed: true };
    return { allowed: false, retryAfter: Math.max(1, ...waits) };
  }

  checkAttempt(attempt: CredentialAttempt): Promise<LimitVerdict> {
    return this.checkAll(CredentialLimiter.subjects(attempt));
  }

  /** Counts one failure for each subject, in one statement. */
  private async recordFailures(subjects: readonly string[]): Promise<void> {
    await this.failures.hit(subjects);
  }

  recordFailedAttempt(attempt: CredentialAttempt): Promise<void> {
    return this.recordFailures(CredentialLimiter.subjects(attempt));
  }
}
