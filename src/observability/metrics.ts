import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/connect.js';
import type { AuditEvent } from './audit.js';

/** Grant types as labels: the ones this server knows, anything else is `other` (labels stay bounded). */
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', 'device_code', 'ciba']);

export type TokenKind = 'access_token' | 'refresh_token';
export type RateLimitName = 'token_ip' | 'token_client' | 'credentials' | 'signup';

/**
 * The operator's numbers, in Prometheus text format at /metrics. One registry per app (tests run
 * several apps in one process); with WORKERS > 1 the primary sums the workers' registries.
 */
export class Metrics {
  readonly registry = new Registry();
  private source: () => Promise<string> = () => this.registry.metrics();

  private readonly httpDuration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP requests by method, route (a pattern, never a raw URL) and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly tokensIssued = new Counter({
    name: 'latchkey_tokens_issued_total',
    help: 'Tokens stored and handed out, by grant type and kind',
    labelNames: ['grant_type', 'token'] as const,
    registers: [this.registry],
  });
  private readonly signInFailures = new Counter({
    name: 'latchkey_sign_in_failures_total',
    help: 'Failed sign-ins at the sign-in form (wrong username or password)',
    registers: [this.registry],
  });
  private readonly passwordGrantFailures = new Counter({
    name: 'latchkey_password_grant_failures_total',
    help: 'Failed password checks at the password grant',
    registers: [this.registry],
  });
  private readonly rateLimited = new Counter({
    name: 'latchkey_rate_limited_total',
    help: 'Requests refused with 429, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  private readonly auditEvents = new Counter({
    name: 'latchkey_audit_events_total',
    help: 'Security events written to the audit log, by event',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  private readonly sessionsEnded = new Counter({
    name: 'latchkey_sessions_ended_total',
    help: 'Sessions of an account ended before their time (account page, password change, an operator), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly purgeRuns = new Counter({
    name: 'latchkey_purge_runs_total',
    help: 'Completed runs of the job that deletes expired tokens, codes and sessions',
    registers: [this.registry],
  });
  private readonly purgedRows = new Counter({
    name: 'latchkey_purge_deleted_rows_total',
    help: 'Expired rows deleted by the purge job',
    registers: [this.registry],
  });
  private readonly purgeLastRun = new Gauge({
    name: 'latchkey_purge_last_run_timestamp_seconds',
    help: 'When the purge job last completed (Unix time)',
    registers: [this.registry],
  });

  constructor(database: Pick<Database, 'poolStats' | 'kind'>) {
    new Gauge({
      name: 'latchkey_db_pool_connections',
      help: 'Database connections: total open, idle, and requests waiting for one',
      labelNames: ['state', 'database'] as const,
      registers: [this.registry],
      collect() {
        const stats = database.poolStats();
        for (const state of ['total', 'idle', 'waiting'] as const) this.set({ state, database: database.kind }, stats[state]);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** The histogram of each method, route and status seen: labels are hashed once, not per request. */
  private readonly httpDurationBy = new Map<string, { observe(seconds: number): void }>();

  /** Records one finished HTTP request. */
  request(method: string, route: string, statusCode: number | string, seconds: number): void {
    const key = `${method} ${statusCode} ${route}`;
    let histogram = this.httpDurationBy.get(key);
    if (!histogram)
      this.httpDurationBy.set(key, (histogram = this.httpDuration.labels({ method, route, status_code: String(statusCode) })));
    histogram.observe(seconds);
  }

  /** `gty` as oidc-provider stores it ("authorization_code refresh_token" after a refresh: the last word counts). */
  tokenIssued(gty: string | undefined, token: TokenKind): void {
    const last = gty?.trim().split(/\s+/).pop() ?? '';
    this.tokensIssued.inc({ grant_type: GRANT_TYPES.has(last) ? last : 'other', token });
  }

  signInFailure(): void {
    this.signInFailures.inc();
  }

  passwordGrantFailure(): void {
    this.passwordGrantFailures.inc();
  }

  limited(limit: RateLimitName): void {
    this.rateLimited.inc({ limit });
  }

  /** Counts an audit event; the failure counters follow from their events. */
  audited(event: AuditEvent): void {
    this.auditEvents.inc({ event });
    if (event === 'sign_in.failure') this.signInFailure();
    else if (event === 'password_grant.failure') this.passwordGrantFailure();
    else if (event === 'sign_in.limited' || event === 'password_grant.limited') this.limited('credentials');
  }

  /** Sessions ended together: console sessions (Latchkey's pages) and OpenID Connect sessions. */
  sessionsEndedBy(consoleSessions: number, oidcSessions: number): void {
    if (consoleSessions > 0) this.sessionsEnded.inc({ kind: 'console' }, consoleSessions);
    if (oidcSessions > 0) this.sessionsEnded.inc({ kind: 'oidc' }, oidcSessions);
  }

  purgeRun(deleted: number): void {
    this.purgeRuns.inc();
    this.purgedRows.inc(deleted);
    this.purgeLastRun.setToCurrentTime();
  }

  /** Where /metrics reads from: this registry, or (in a cluster worker) every worker's, summed. */
  useSource(source: () => Promise<string>): void {
    this.source = source;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.source();
  }
}
