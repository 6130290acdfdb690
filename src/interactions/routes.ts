import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults } from 'oidc-provider';
import { textField } from '../http/form-fields.js';
import { awaitSecondFactor, secondFactorPage, verifySecondFactor } from '../accounts/second-factor.js';
import { allowConsent, consentView } from './consent.js';
import { currentInteraction, interactionGone, mayContinueAs, type InteractionDetails } from './details.js';

type Req = FastifyRequest<{ Params: { uid: string } }>;

/**
 * The pages of an authorization request (oidc-provider sends the browser to
 * /interaction/:uid): the login prompt, then the consent prompt. Each answer is handed back
 * with interactionResult and a 303 to the provider, which resumes the authorization.
 */
export async function interactionRoutes(app: FastifyInstance): Promise<void> {
  const { provider } = app;
  const csrf = { preHandler: app.csrfProtection };

  async function clientName(details: InteractionDetails): Promise<string> {
    const clientId = String(details.params.client_id ?? '');
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    return client?.clientName || clientId;
  }

  async function loginPage(
    request: Req,
    reply: FastifyReply,
    details: InteractionDetails,
    status = 200,
    form?: { username: string; problem: string },
    signUp?: { username: string; problem: string },
  ) {
    const account = request.account;
    return reply.code(status).view('interaction-login', {
      title: 'Sign in',
      uid: details.uid,
      loginAction: `/interaction/${details.uid}/login`,
      signUpAction: `/interaction/${details.uid}/signup`,
      clientName: await clientName(details),
      continueAs: account && mayContinueAs(details, request.signedInAt) ? account.username : undefined,
      username: form?.username ?? (typeof details.params.login_hint === 'string' ? details.params.login_hint : ''),
      problem: form?.problem,
      signUp,
    });
  }

  async function consentPage(reply: FastifyReply, details: InteractionDetails) {
    const account = details.session?.accountId ? await app.accounts.findById(Number(details.session.accountId)) : undefined;
    return reply.view('interaction-consent', {
      title: 'Allow access?',
      uid: details.uid,
      accountName: account?.username,
      ...(await consentView(provider, details, app.resources)),
    });
  }

  /** Hands the answer to the provider and sends the browser back to it. */
  async function finish(request: Req, reply: FastifyReply, result: InteractionResults, merge = true) {
    const returnTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: merge });
    return reply.redirect(returnTo, 303);
  }

  app.get<{ Params: { uid: string } }>('/interaction/:uid', async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const details = await currentInteraction(provider, request, reply);
    if (!details) return interactionGone(reply);
    if (details.prompt.name === 'login') return loginPage(request, reply, details);
    if (details.prompt.name === 'consent') return consentPage(reply, details);
    return interactionGone(reply);
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/login', csrf, async (request, reply) => {
    const details = await currentInteraction(provider, request, reply, 'login');
    if (!details) return interactionGone(reply);
    const username = textField(request.body, 'username');
    const password = textField(request.body, 'password');
    if (!username.trim() || !password) {
      return loginPage(request, reply, details, 422, { username, problem: 'Enter your username and password.' });
    }
    const check = await app.checkPassword(username, password, request);
    if (check.outcome === 'limited') {
      reply.header('Retry-After', String(check.retryAfter));
      return loginPage(request, reply, details, 429, { username, problem: check.message });
    }
    if (check.outcome === 'wrong') {
      return loginPage(request, reply, details, 401, { username, problem: 'Wrong username or password.' });
    }
    if (check.account.secondFactor) {
      await awaitSecondFactor(app, reply, check.account.id, details.uid);
      return secondFactorPage(reply, 200, `/interaction/${details.uid}/verify`, undefined, `/interaction/${details.uid}/abort`);
    }
    await reply.signIn(check.account);
    return finish(request, reply, { login: { accountId: String(check.account.id) } }, false);
  });

  // The second factor of a sign-in whose password was right (for this interaction and browser).
  app.post<{ Params: { uid: string } }>('/interaction/:uid/verify', csrf, async (request, reply) => {
    const details = await currentInteraction(provider, request, reply, 'login');
    if (!details) return interactionGone(reply);
    const result = await verifySecondFactor(app, request, reply, details.uid);
    if (result.outcome === 'problem') {
      if (result.gone) return loginPage(request, reply, details, result.status, { username: '', problem: result.problem });
      const page = `/interaction/${details.uid}`;
      return secondFactorPage(reply, result.status, `${page}/verify`, result.problem, `${page}/abort`);
    }
    const account = await app.accounts.findById(result.accountId);
    if (!account) return loginPage(request, reply, details, 401, { username: '', problem: 'Wrong username or password.' });
    await reply.signIn(account);
    return finish(request, reply, { login: { accountId: String(account.id), amr: ['pwd', 'otp', 'mfa'] } }, false);
  });

  // An account created here signs in at once and the same authorization goes on (to consent).
  app.post<{ Params: { uid: string } }>('/interaction/:uid/signup', csrf, async (request, reply) => {
    const details = await currentInteraction(provider, request, reply, 'login');
    if (!details) return interactionGone(reply);
    const username = textField(request.body, 'username');
    const result = await app.createAccount(username, textField(request.body, 'password'), request);
    if (result.outcome !== 'created') {
      if (result.outcome === 'limited') reply.header('Retry-After', String(result.retryAfter));
      return loginPage(request, reply, details, result.status, undefined, { username, problem: result.problem });
    }
    await reply.signIn(result.account);
    return finish(request, reply, { login: { accountId: String(result.account.id) } }, false);
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/continue', csrf, async (request, reply) => {
    const details = await currentInteraction(provider, request, reply, 'login');
    if (!details) return interactionGone(reply);
    const account = request.account;
    if (!account || !mayContinueAs(details, request.signedInAt)) {
      return loginPage(request, reply, details, 422, { username: '', problem: 'Sign in with your username and password.' });
    }
    return finish(request, reply, { login: { accountId: String(account.id), ts: request.signedInAt } }, false);
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/confirm', csrf, async (request, reply) => {
    const details = await currentInteraction(provider, request, reply, 'consent');
    if (!details) return interactionGone(reply);
    const grantId = await allowConsent(provider, details);
    request.audit('consent.granted', {
      client_id: String(details.params.client_id),
      scope: String(details.params.scope ?? ''),
      account: details.session?.accountId,
    });
    return finish(request, reply, { consent: { grantId } });
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/abort', csrf, async (request, reply) => {
    const details = await currentInteraction(provider, request, reply);
    if (!details) return interactionGone(reply);
    request.audit('consent.denied', {
      client_id: String(details.params.client_id),
      prompt: details.prompt.name,
      account: details.session?.accountId,
    });
    return finish(request, reply, { error: 'access_denied', error_description: 'the person declined the authorization' }, false);
  });
}
