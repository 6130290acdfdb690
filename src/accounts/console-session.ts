import type { IncomingMessage } from 'node:http';
import { Signer } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { cookieOptions } from '../http/security-headers.js';
import { CONSOLE_SESSION_SECONDS, type ConsoleSessions } from './console-sessions.js';

/** The console session's cookie: the session's random id, signed with the cookie keys. */
export const CONSOLE_COOKIE = 'latchkey_console';

export function consoleSessionId(request: FastifyRequest): string | undefined {
  const raw = request.cookies[CONSOLE_COOKIE];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  return valid && value ? value : undefined;
}

export function setConsoleCookie(reply: FastifyReply, issuer: string, id: string): void {
  reply.setCookie(CONSOLE_COOKIE, id, { ...cookieOptions(issuer), signed: true, maxAge: CONSOLE_SESSION_SECONDS });
}

export function clearConsoleCookie(reply: FastifyReply, issuer: string): void {
  reply.clearCookie(CONSOLE_COOKIE, cookieOptions(issuer));
}

/** One cookie's value from a Cookie header, decoded as @fastify/cookie encodes it. */
function cookieValue(header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A provider middleware: a confirmed RP-initiated logout (/oauth/logout, "Yes, sign me out") ends
 * this browser's console session too, as Sign out ends the OpenID Connect session: one person,
 * one sign-in.
 */
export function endConsoleSessionOnLogout(provider: Provider, sessions: ConsoleSessions, cookieKeys: string[], issuer: string) {
  const signer = new Signer(cookieKeys);
  const { secure } = cookieOptions(issuer);
  const loggedOut = new WeakSet<IncomingMessage>();
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    if (ctx.oidc.params?.logout) loggedOut.add(ctx.req);
  });
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (!loggedOut.has(ctx.req)) return;
    const raw = cookieValue(ctx.get('cookie'), CONSOLE_COOKIE);
    const unsigned = raw ? signer.unsign(raw) : undefined;
    if (unsigned?.valid && unsigned.value) await sessions.end(unsigned.value);
    ctx.append(
      'Set-Cookie',
      `${CONSOLE_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`,
    );
  };
}
