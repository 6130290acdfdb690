import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from './store.js';
import { clearConsoleCookie, consoleSessionId, setConsoleCookie } from './console-session.js';
import { checkPassword } from './password-check.js';
import { signUp } from './sign-up.js';
import { HourlyLimit } from '../limits/hourly-limit.js';
import { CredentialLimiter } from '../limits/credential-limits.js';
import { retryMessage } from './password-check.js';

/** Paths in the pages' context that are not pages (files, unknown API addresses): no console session, no CSRF cookie. */
const NOT_PAGES = ['/static/', '/api/'];

function isPage(url: string): boolean {
  return !NOT_PAGES.some((prefix) => url.startsWith(prefix));
}

/**
 * The console session for every page: request.account (the signed-in person, or null), and
 * what the layout needs (reply.locals.user and a CSRF token for the Sign out form). Hands the
 * other features reply.signIn / reply.signOutOfConsole, app.checkPassword and app.createAccount.
 */
async function consoleSessions(app: FastifyInstance): Promise<void> {
  const { issuer } = app.config;
  const sessions = app.consoleSessions;
  app.decorateRequest('account', null);
  app.decorateRequest('signedInAt', 0);
  app.decorateRequest('consoleSessionId', null);
  app.decorateReply('signIn', async function (this: FastifyReply, account: Account) {
    const request = this.request;
    if (request.consoleSessionId) await sessions.end(request.consoleSessionId);
    const { id, session } = await sessions.start(account.id, { ip: request.ip, userAgent: request.headers['user-agent'] });
    setConsoleCookie(this, issuer, id);
    request.account = account;
    request.signedInAt = session.signedInAt;
    request.consoleSessionId = id;
  });
  app.decorateReply('signOutOfConsole', async function (this: FastifyReply) {
    const request = this.request;
    if (request.consoleSessionId) await sessions.end(request.consoleSessionId);
    clearConsoleCookie(this, issuer);
    request.account = null;
    request.consoleSessionId = null;
  });
  app.decorate('checkPassword', async (username: string, password: string, request?: FastifyRequest) => {
    const check = await checkPassword(app.accounts, app.credentialLimiter, username, password, request?.ip);
    // The audit line (and the sign-in failure metric) of every attempt, with the form it came from.
    const via = request?.routeOptions.url;
    if (check.outcome === 'signed-in') request?.audit('sign_in.success', { username, account: check.account.id, via });
    else request?.audit(check.outcome === 'wrong' ? 'sign_in.failure' : 'sign_in.limited', { username, via });
    return check;
  });

  // Codes are guessed as passwords are: counted before the check, per account and per IP, in the database.
  app.decorate('checkSecondFactor', async (accountId: number, code: string, request: FastifyRequest) => {
    const attempt = { username: '', subject: CredentialLimiter.forSecondFactor(accountId), ip: request.ip };
    const result = await app.credentialLimiter.attempt(attempt, () => app.twoFactor.check(accountId, code));
    const via = request.routeOptions.url;
    if (result.outcome === 'limited') {
      request.audit('sign_in.limited', { account: accountId, factor: 'totp', via });
      return {
        outcome: 'limited',
        retryAfter: result.retryAfter,
        message: retryMessage(result.retryAfter, 'codes for this account'),
      } as const;
    }
    if (result.outcome === 'wrong') {
      request.audit('totp.failed', { account: accountId, via });
      return { outcome: 'wrong' } as const;
    }
    if (result.value === 'recovery_code') {
      request.audit('recovery_code.used', { account: accountId, left: await app.twoFactor.recoveryCodesLeft(accountId), via });
    }
    return { outcome: 'right', method: result.value } as const;
  });

  const signupLimit = new HourlyLimit(app.db, { name: 'signup', perIp: app.config.signupRateLimit, countRefused: false });
  app.decorate('createAccount', async (username: string, password: string, request: FastifyRequest) => {
    const result = await signUp(app.accounts, signupLimit, username, password, request.ip);
    if (result.outcome === 'created') {
      request.audit('account.created', { username: result.account.username, account: result.account.id, via: request.routeOptions.url });
    } else if (result.outcome === 'limited') {
      app.metrics.limited('signup');
      request.audit('rate_limit.exceeded', { limit: 'signup' });
    }
    return result;
  });

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isPage(request.url)) return;
    const id = consoleSessionId(request);
    if (id) {
      const session = await sessions.find(id);
      const account = session && (await app.accounts.findById(session.accountId));
      if (session && account) {
        request.account = account;
        request.signedInAt = session.signedInAt;
        request.consoleSessionId = id;
      } else {
        clearConsoleCookie(reply, issuer);
      }
    }
    reply.locals = {
      ...reply.locals,
      user: request.account ? { username: request.account.username } : undefined,
      csrfToken: reply.generateCsrf(),
    };
  });
}

export const consolePlugin = fp(consoleSessions, {
  name: 'latchkey-console',
  fastify: '5.x',
  dependencies: ['latchkey-security', '@fastify/view'],
});
