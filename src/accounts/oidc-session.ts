import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { cookieOptions } from '../http/security-headers.js';

/**
 * Ends the OpenID Connect session of this browser (the provider's `_session` cookie): the
 * stored session is destroyed and the cookie cleared, so the next authorization asks for a
 * sign-in again. Grants (remembered consent) are kept.
 */
export async function endOidcSession(provider: Provider, issuer: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const name = provider.cookieName('session');
  if (!request.cookies[name]) return;
  // Session.get checks the cookie's signature with the provider's own cookie keys.
  const session = await provider.Session.get({ req: request.raw, res: reply.raw } as never);
  if (session.accountId) await session.destroy();
  reply.clearCookie(name, cookieOptions(issuer));
  reply.clearCookie(`${name}.sig`, cookieOptions(issuer));
}

/** The account of this browser's OpenID Connect session, if it has one. */
export async function oidcSessionAccount(provider: Provider, request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
  if (!request.cookies[provider.cookieName('session')]) return undefined;
  const session = await provider.Session.get({ req: request.raw, res: reply.raw } as never);
  return session.accountId;
}

/** The id of this browser's OpenID Connect session when it is the account's: kept when the account's other sessions end. */
export async function oidcSessionIdOf(
  provider: Provider,
  accountId: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<string | undefined> {
  if (!request.cookies[provider.cookieName('session')]) return undefined;
  const session = await provider.Session.get({ req: request.raw, res: reply.raw } as never);
  return session.accountId === accountId ? session.jti : undefined;
}
