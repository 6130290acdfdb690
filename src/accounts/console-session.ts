import type { FastifyReply, FastifyRequest } from 'fastify';
import { cookieOptions } from '../http/security-headers.js';

/** The console session: a signed cookie holding the account id, when it signed in, and until when. */
export const CONSOLE_COOKIE = 'latchkey_console';
export const CONSOLE_SESSION_SECONDS = 12 * 3600;

export interface ConsoleSession {
  accountId: number;
  /** When the person typed their password (seconds since the epoch): the auth_time of a "Continue as". */
  signedInAt: number;
  expiresAt: number;
}

const now = () => Math.floor(Date.now() / 1000);

export function readConsoleSession(request: FastifyRequest): ConsoleSession | undefined {
  const raw = request.cookies[CONSOLE_COOKIE];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  if (!valid || !value) return undefined;
  const match = /^(\d{1,10})\.(\d{1,12})\.(\d{1,12})$/.exec(value);
  if (!match) return undefined;
  const [accountId, signedInAt, expiresAt] = match.slice(1).map(Number) as [number, number, number];
  if (expiresAt <= now()) return undefined;
  return { accountId, signedInAt, expiresAt };
}

export function startConsoleSession(reply: FastifyReply, issuer: string, accountId: number): void {
  const signedInAt = now();
  const expiresAt = signedInAt + CONSOLE_SESSION_SECONDS;
  reply.setCookie(CONSOLE_COOKIE, `${accountId}.${signedInAt}.${expiresAt}`, {
    ...cookieOptions(issuer),
    signed: true,
    maxAge: CONSOLE_SESSION_SECONDS,
  });
}

export function endConsoleSession(reply: FastifyReply, issuer: string): void {
  reply.clearCookie(CONSOLE_COOKIE, cookieOptions(issuer));
}
