/** What every HTTP layer answers (503, with Retry-After) while the database cannot be reached. */
export const UNAVAILABLE = {
  error: 'temporarily_unavailable',
  error_description: 'the database is unavailable, try again shortly',
} as const;
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** Raised when the database cannot be reached; HTTP layers answer 503 for it. */
export class DatabaseUnavailableError extends Error {
  readonly statusCode = 503;
  readonly status = 503;
  // oidc-provider shows exposed errors as they are: clients get a clean temporarily_unavailable.
  readonly expose = true;
  readonly error = UNAVAILABLE.error;
  readonly error_description = UNAVAILABLE.error_description;
  readonly retryAfter = UNAVAILABLE_RETRY_AFTER_SECONDS;

  constructor(options?: { cause?: unknown }) {
    super('temporarily_unavailable', options);
    this.name = 'DatabaseUnavailableError';
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now).
    if (/^08/.test(code) || /^57P0[1-3]$/.test(code)) return true;
    // too_many_connections; 55000 when the database refuses connections (ALLOW_CONNECTIONS false).
    if (code === '53300' || (code === '55000' && /not currently accepting connections/i.test(err.message))) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error/i.test(
    err.message,
  );
}

/** Runs a database call, turning "cannot reach the database" into DatabaseUnavailableError. */
export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw new DatabaseUnavailableError({ cause: err });
    throw err;
  }
}
