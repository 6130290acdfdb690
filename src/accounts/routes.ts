import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from './store.js';
import { endOidcSession, oidcSessionAccount } from './oidc-session.js';
import { textField } from '../http/form-fields.js';
import { awaitSecondFactor, secondFactorPage, verifySecondFactor } from './second-factor.js';

/** What the anonymous home page ('welcome') shows beside its two forms. */
export interface WelcomeForms {
  signIn?: { username: string; problem: string };
  signUp?: { username: string; problem: string };
}

/**
 * Sign up, sign in and sign out of the console. The forms live on the anonymous home page
 * (views/welcome.hbs); a problem re-renders it with the message and the username kept.
 */
export async function accountRoutes(app: FastifyInstance): Promise<void> {
  const { provider } = app;
  const { issuer } = app.config;
  const csrf = { preHandler: app.csrfProtection };

  const welcome = (reply: FastifyReply, status: number, forms: WelcomeForms) =>
    reply.code(status).view('welcome', { title: 'Welcome', ...forms });

  /** Starts the console session; an OpenID Connect session of someone else in this browser ends. */
  async function signIn(request: FastifyRequest, reply: FastifyReply, account: Account) {
    const oidcAccount = await oidcSessionAccount(provider, request, reply);
    if (oidcAccount && oidcAccount !== String(account.id)) await endOidcSession(provider, issuer, request, reply);
    await reply.signIn(account);
    return reply.redirect('/', 303);
  }

  app.post('/signup', csrf, async (request, reply) => {
    const username = textField(request.body, 'username');
    const result = await app.createAccount(username, textField(request.body, 'password'), request);
    if (result.outcome === 'created') return signIn(request, reply, result.account);
    if (result.outcome === 'limited') reply.header('Retry-After', String(result.retryAfter));
    return welcome(reply, result.status, { signUp: { username, problem: result.problem } });
  });

  app.post('/signin', csrf, async (request, reply) => {
    const username = textField(request.body, 'username');
    const password = textField(request.body, 'password');
    if (!username.trim() || !password) {
      return welcome(reply, 422, { signIn: { username, problem: 'Enter your username and password.' } });
    }
    const check = await app.checkPassword(username, password, request);
    if (check.outcome === 'limited') {
      reply.header('Retry-After', String(check.retryAfter));
      return welcome(reply, 429, { signIn: { username, problem: check.message } });
    }
    if (check.outcome === 'wrong') {
      return welcome(reply, 401, { signIn: { username, problem: 'Wrong username or password.' } });
    }
    if (check.account.secondFactor) {
      // The password alone starts no session: the code comes next, for this browser only.
      await awaitSecondFactor(app, reply, check.account.id, null);
      return secondFactorPage(reply, 200, '/signin/verify');
    }
    return signIn(request, reply, check.account);
  });

  app.post('/signin/verify', csrf, async (request, reply) => {
    const result = await verifySecondFactor(app, request, reply, null);
    if (result.outcome === 'problem') {
      if (result.gone) return welcome(reply, result.status, { signIn: { username: '', problem: result.problem } });
      return secondFactorPage(reply, result.status, '/signin/verify', result.problem);
    }
    const account = await app.accounts.findById(result.accountId);
    if (!account) return welcome(reply, 401, { signIn: { username: '', problem: 'Wrong username or password.' } });
    return signIn(request, reply, account);
  });

  app.post('/signout', csrf, async (request, reply) => {
    await endOidcSession(provider, issuer, request, reply);
    if (request.account) request.audit('sign_out', { account: request.account.id });
    await reply.signOutOfConsole();
    return reply.redirect('/', 303);
  });
}
