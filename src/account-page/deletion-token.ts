import type { FastifyReply, FastifyRequest } from 'fastify';
import { sessionHash } from '../accounts/console-sessions.js';

/** How long the confirmation page of Delete account stays good for. */
const DELETION_SECONDS = 10 * 60;
const PREFIX = 'delete-account';

/**
 * What the confirmation page's button carries: that this account's password was just checked
 * in this console session, until when; signed with the cookie keys, so it is good for nothing else.
 */
export function deletionToken(reply: FastifyReply, accountId: number, consoleSessionId: string): string {
  const until = Math.floor(Date.now() / 1000) + DELETION_SECONDS;
  return reply.signCookie(`${PREFIX}:${accountId}:${sessionHash(consoleSessionId)}:${until}`);
}

export function deletionTokenHolds(request: FastifyRequest, token: string, accountId: number, consoleSessionId: string): boolean {
  if (!token || token.length > 512) return false;
  const { valid, value } = request.unsignCookie(token);
  if (!valid || !value) return false;
  const [prefix, account, session, until, ...rest] = value.split(':');
  return (
    rest.length === 0 &&
    prefix === PREFIX &&
    account === String(accountId) &&
    session === sessionHash(consoleSessionId) &&
    Number(until) > Date.now() / 1000
  );
}
