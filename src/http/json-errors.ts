import type { ServerResponse } from 'node:http';
import { UNAVAILABLE, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../db/unavailable.js';

/** An OAuth-style error body (RFC 6749 §5.2): every JSON error this server writes has this shape. */
export interface ErrorBody {
  error: string;
  error_description: string;
}

/** The one writer of a JSON error on a raw Node response (requests Fastify does not answer). */
export function writeJsonError(res: ServerResponse, status: number, body: ErrorBody, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify(body));
}

/** The 503 of an unreachable database, with its Retry-After. */
export function writeUnavailable(res: ServerResponse): void {
  writeJsonError(res, 503, UNAVAILABLE, { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) });
}
