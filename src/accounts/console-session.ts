import type { IncomingMessage } from 'node:http';
import { Signer } from '@fastify/cookie';
import Tokens from '@fastify/csrf';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { cookieOptions } from '../http/security-headers.js';
import { CONSOLE_SESSION_SECONDS, type ConsoleSessions } from './console-sessions.js';
import type { AccountStore } from './store.js';

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

/** The CSRF cookie of the pages (as @fastify/csrf-protection keeps it: a signed secret). */
const CSRF_COOKIE = '_csrf';

/** What the layout shows of the person on a page the provider renders: who, and a Sign out form's token. */
export interface ConsoleView {
  user?: { username: string };
  csrfToken?: string;
}

/**
 * For the pages oidc-provider renders itself (device flow, logout, errors), outside Fastify: the
 * console session of the browser, read from its cookie as the pages' plugin does, so that they
 * carry the same header and Sign out as every other page. The Sign out form's CSRF token is made
 * from the pages' own CSRF secret (set here if the browser has none yet).
 */
export function consoleViewOf(sessions: ConsoleSessions, accounts: AccountStore, cookieKeys: string[], issuer: string) {
  const signer = new Signer(cookieKeys);
  const tokens = Tokens() as ReturnType<typeof Tokens> & { create(secret: string): string };
  const unsigned = (raw: string | undefined) => {
    const result = raw ? signer.unsign(raw) : undefined;
    return result?.valid && result.value ? result.value : undefined;
  };
  const { secure } = cookieOptions(issuer);
  return async (ctx: KoaContextWithOIDC): Promise<ConsoleView> => {
    const cookies = ctx.get('cookie');
    const id = unsigned(cookieValue(cookies, CONSOLE_COOKIE));
    const session = id ? await sessions.find(id) : undefined;
    const account = session ? await accounts.findById(session.accountId) : undefined;
    if (!account) return {};
    let secret = unsigned(cookieValue(cookies, CSRF_COOKIE));
    if (!secret) {
      secret = tokens.secretSync();
      const value = encodeURIComponent(signer.sign(secret));
      ctx.append('Set-Cookie', `${CSRF_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`);
    }
    return { user: { username: account.username }, csrfToken: tokens.create(secret) };
  };
}
