import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/store.js';
import { AccountError, validPassword } from '../accounts/store.js';
import { sessionHash } from '../accounts/console-sessions.js';
import { endOidcSession, oidcSessionIdOf } from '../accounts/oidc-session.js';
import { textField } from '../http/form-fields.js';
import { AccountLifecycle } from './lifecycle.js';
import { deletionToken, deletionTokenHolds } from './deletion-token.js';
import { shortUserAgent } from './user-agent.js';
import { twoFactorRoutes, type TwoFactorForm } from './two-factor.js';

/** What a form of the account page says after a post: a problem, or that it was done. */
interface FormState {
  problem?: string;
  done?: string;
}

interface AccountForms {
  password?: FormState;
  sessions?: FormState;
  deletion?: FormState;
  totp?: TwoFactorForm;
}

const when = (epochSeconds: number) => `${new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * /account: Change password, the console sessions (each with Sign out, and Sign out everywhere)
 * and Delete account. Every form carries a CSRF token; a password is checked as at sign-in (the
 * credential limiter counts the attempt first), and a wrong one re-renders the page with a 4xx.
 */
export async function accountPageRoutes(app: FastifyInstance): Promise<void> {
  const { provider } = app;
  const { issuer } = app.config;
  const csrf = { preHandler: app.csrfProtection };
  const lifecycle = new AccountLifecycle(app);

  async function render(request: FastifyRequest, reply: FastifyReply, account: Account, status: number, forms: AccountForms = {}) {
    const current = request.consoleSessionId ? sessionHash(request.consoleSessionId) : undefined;
    const sessions = (await app.consoleSessions.listOf(account.id)).map((session) => ({
      idHash: session.idHash,
      current: session.idHash === current,
      signedInAt: when(session.signedInAt),
      signedInAtIso: iso(session.signedInAt),
      lastSeenAt: when(session.lastSeenAt),
      lastSeenAtIso: iso(session.lastSeenAt),
      ip: session.ip ?? 'unknown',
      browser: shortUserAgent(session.userAgent),
      userAgent: session.userAgent ?? '',
    }));
    return reply
      .code(status)
      .header('Cache-Control', 'no-store')
      .view('account', {
        title: 'Account',
        username: account.username,
        sessions,
        twoFactorOn: await app.twoFactor.isOn(account.id),
        ...forms,
      });
  }

  /** The password of the signed-in person, checked as at sign-in: a problem to show, or undefined when right. */
  async function wrongPassword(request: FastifyRequest, reply: FastifyReply, account: Account, password: string) {
    if (!password) return { status: 422, problem: 'Enter your current password.' };
    const check = await app.checkPassword(account.username, password, request);
    if (check.outcome === 'limited') {
      reply.header('Retry-After', String(check.retryAfter));
      return { status: 429, problem: check.message };
    }
    if (check.outcome === 'wrong') return { status: 401, problem: 'The current password is wrong.' };
    return undefined;
  }

  /** Signs this browser out of both sessions, as Sign out does. */
  async function signOutHere(request: FastifyRequest, reply: FastifyReply) {
    await endOidcSession(provider, issuer, request, reply);
    await reply.signOutOfConsole();
    reply.locals = { ...reply.locals, user: undefined };
  }

  await twoFactorRoutes(app, {
    render: (request, reply, account, status, totp) => render(request, reply, account, status, { totp }),
    wrongPassword,
  });

  app.get('/account', async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    return render(request, reply, account, 200);
  });

  app.post('/account/password', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    const current = textField(request.body, 'current_password');
    const next = textField(request.body, 'new_password');
    try {
      // The cheap checks first; the password hash is only checked for a change that can be made.
      validPassword(next);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      return render(request, reply, account, 422, { password: { problem: `New password: ${err.message}` } });
    }
    const wrong = await wrongPassword(request, reply, account, current);
    if (wrong) return render(request, reply, account, wrong.status, { password: { problem: wrong.problem } });
    const keep = {
      consoleSessionId: request.consoleSessionId ?? undefined,
      oidcSessionId: await oidcSessionIdOf(provider, String(account.id), request, reply),
    };
    const ended = await lifecycle.changePassword(account.id, next, keep);
    if (!ended) return reply.redirect('/', 303);
    request.audit('account.password_changed', { account: account.id, via: 'account_page' });
    app.metrics.sessionsEndedBy(ended.console, ended.oidc);
    if (ended.console + ended.oidc > 0) {
      request.audit('account.sessions_ended', { account: account.id, console: ended.console, oidc: ended.oidc, via: 'password_change' });
    }
    const others = ended.console ? ` ${plural(ended.console, 'other session')} signed out.` : '';
    return render(request, reply, account, 200, { password: { done: `Your password was changed.${others}` } });
  });

  app.post('/account/sessions/end', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    const idHash = textField(request.body, 'session');
    if (request.consoleSessionId && idHash === sessionHash(request.consoleSessionId)) {
      request.audit('sign_out', { account: account.id, via: 'account_page' });
      await signOutHere(request, reply);
      return reply.redirect('/', 303);
    }
    if (!(await app.consoleSessions.endByHash(account.id, idHash))) {
      return render(request, reply, account, 404, { sessions: { problem: 'That session has already ended.' } });
    }
    app.metrics.sessionsEndedBy(1, 0);
    request.audit('account.sessions_ended', { account: account.id, console: 1, via: 'account_page' });
    return render(request, reply, account, 200, { sessions: { done: 'That session was signed out.' } });
  });

  app.post('/account/sessions/end-all', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    await signOutHere(request, reply);
    const ended = await lifecycle.endSessions(account.id);
    app.metrics.sessionsEndedBy(ended.console + 1, ended.oidc);
    request.audit('account.sessions_ended', { account: account.id, console: ended.console + 1, oidc: ended.oidc, via: 'everywhere' });
    return reply.redirect('/', 303);
  });

  // Deleting takes two steps: the password (checked under the limits), then a confirmation page
  // whose button carries a short-lived token signed for this session alone.
  app.post('/account/delete', csrf, async (request, reply) => {
    const account = request.account;
    if (!account || !request.consoleSessionId) return reply.redirect('/', 303);
    const wrong = await wrongPassword(request, reply, account, textField(request.body, 'current_password'));
    if (wrong) return render(request, reply, account, wrong.status, { deletion: { problem: wrong.problem } });
    const clients = await app.clients.listByOwner(account.id);
    return reply.header('Cache-Control', 'no-store').view('account-delete', {
      title: 'Delete account',
      username: account.username,
      clients: clients.map((c) => c.client_name || c.client_id),
      confirmation: deletionToken(reply, account.id, request.consoleSessionId),
    });
  });

  app.post('/account/delete/confirm', csrf, async (request, reply) => {
    const account = request.account;
    if (!account || !request.consoleSessionId) return reply.redirect('/', 303);
    if (!deletionTokenHolds(request, textField(request.body, 'confirmation'), account.id, request.consoleSessionId)) {
      return render(request, reply, account, 400, {
        deletion: { problem: 'That confirmation has expired. Enter your password again to delete your account.' },
      });
    }
    await signOutHere(request, reply);
    const deleted = await lifecycle.delete(account.id);
    if (deleted) {
      request.audit('account.deleted', {
        account: account.id,
        username: account.username,
        grants: deleted.grants,
        clients: deleted.clients,
        via: 'account_page',
      });
    }
    return reply.header('Cache-Control', 'no-store').view('welcome', {
      title: 'Welcome',
      notice: `The account ${account.username} was deleted, with its clients and every access it had given.`,
    });
  });
}
