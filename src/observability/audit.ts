/**
 * Audit lines: one structured log line per security event, marked `audit: true` with an `event`
 * name, so an operator can keep them apart (`jq 'select(.audit)'`). They never carry a secret:
 * fields named like one are dropped, and only short plain values are kept.
 */
export const AUDIT_EVENTS = [
  'sign_in.success',
  'sign_in.failure',
  'sign_in.limited',
  'sign_out',
  'account.created',
  'account.password_changed',
  'account.sessions_ended',
  'account.disabled',
  'account.enabled',
  'account.deleted',
  'totp.enabled',
  'totp.disabled',
  'totp.failed',
  'totp.reset',
  'recovery_code.used',
  'consent.granted',
  'consent.denied',
  'client.created',
  'client.deleted',
  'client.secret_rotated',
  'client.registered',
  'client.updated',
  'registration_token.created',
  'password_grant.success',
  'password_grant.failure',
  'password_grant.limited',
  'token.revoked',
  'grant.revoked',
  'key.rotated',
  'resource.created',
  'resource.deleted',
  'rate_limit.exceeded',
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export type AuditValue = string | number | boolean | null | undefined | readonly string[];
export type AuditFields = Record<string, AuditValue>;

/** The part of a pino logger audit needs (a request's `request.log` carries its reqId). */
export interface AuditLogger {
  info(obj: object, msg?: string): void;
}

const SECRET_FIELD = /pass|secret|token|code|cookie|authorization|assertion|verifier|nonce|state|key$/i;
// Names that look like secrets above but are identifiers.
const SAFE_FIELDS = new Set(['client_id', 'grant_id', 'token_type', 'kid', 'kids', 'grant_type', 'status_code']);
const MAX_VALUE = 200;
const MAX_LIST = 20;

function short(value: string): string {
  return value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}…` : value;
}

/** The fields as logged: secret-named ones dropped, long strings cut, lists bounded. */
export function auditFields(fields: AuditFields): Record<string, string | number | boolean | null | string[]> {
  const kept: Record<string, string | number | boolean | null | string[]> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (SECRET_FIELD.test(name) && !SAFE_FIELDS.has(name)) continue;
    if (typeof value === 'string') kept[name] = short(value);
    else if (Array.isArray(value)) kept[name] = value.slice(0, MAX_LIST).map((v) => short(String(v)));
    else kept[name] = value as number | boolean | null;
  }
  return kept;
}

/** Writes the audit line for `event` to `log` (a request logger keeps the request id on it). */
export function audit(log: AuditLogger, event: AuditEvent, fields: AuditFields = {}): void {
  log.info({ ...auditFields(fields), audit: true, event }, `audit ${event}`);
}
