import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  authorize,
  callApi,
  completeAuthorization,
  refreshTokens,
  revokeTokens,
  startWithClient,
  startWithRegistration,
  type FlowContext,
} from './flow.js';
import { describeError } from './relying-party.js';
import { AUTH_METHODS, csrfMatches, type AuthMethod, type PlaygroundSession, type SessionStore } from './sessions.js';

export const SESSION_COOKIE = 'latchkey_playground';

export interface RouteOptions {
  context: FlowContext;
  sessions: SessionStore;
  publicUrl: URL;
}

type Form = Record<string, string | undefined>;

function field(form: Form, name: string): string {
  const value = form[name];
  return typeof value === 'string' ? value.trim() : '';
}

/** The playground's pages: one page showing the flow so far, and a form action per button. */
export async function playgroundRoutes(app: FastifyInstance, { context, sessions, publicUrl }: RouteOptions): Promise<void> {
  const secureCookie = publicUrl.protocol === 'https:';

  function sessionOf(request: FastifyRequest): PlaygroundSession | undefined {
    return sessions.get(request.cookies[SESSION_COOKIE]);
  }

  function ensureSession(request: FastifyRequest, reply: FastifyReply): PlaygroundSession {
    const existing = sessionOf(request);
    if (existing) return existing;
    const session = sessions.create();
    reply.setCookie(SESSION_COOKIE, session.id, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookie });
    return session;
  }

  function refuse(reply: FastifyReply, status: number, message: string) {
    return reply.code(status).view('playground/message', { title: 'Refused', message });
  }

  /** Every POST: same-origin (when the browser says where it comes from) and the session's CSRF token. */
  function guarded(request: FastifyRequest, reply: FastifyReply): PlaygroundSession | undefined {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== publicUrl.origin) {
      refuse(reply, 403, 'This form was sent from another site.');
      return undefined;
    }
    const session = sessionOf(request);
    if (!session || !csrfMatches(session, (request.body as Form | undefined)?._csrf)) {
      refuse(reply, 403, 'This form has expired. Go back to the playground and try again.');
      return undefined;
    }
    return session;
  }

  const backHome = (reply: FastifyReply) => reply.redirect('/', 303);

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get('/', async (request, reply) => {
    const session = ensureSession(request, reply);
    const notice = session.notice;
    session.notice = undefined;
    const client = session.client;
    return reply.view('playground/page', {
      title: 'Playground',
      issuer: context.issuer.href,
      redirectUri: context.redirectUri,
      csrfToken: session.csrfToken,
      notice,
      authMethods: AUTH_METHODS,
      client: client && { clientId: client.clientId, authMethod: client.authMethod, scope: client.scope },
      authorizationUrl: session.authorizationUrl,
      steps: session.steps,
      hasTokens: Boolean(session.tokens),
      hasRefreshToken: Boolean(session.tokens?.refreshToken),
    });
  });

  app.post('/connect', async (request, reply) => {
    const session = guarded(request, reply);
    if (!session) return reply;
    const form = request.body as Form;
    const clientId = field(form, 'client_id');
    const authMethod = field(form, 'token_endpoint_auth_method') as AuthMethod;
    const clientSecret = field(form, 'client_secret');
    const scope = field(form, 'scope').split(/\s+/).filter(Boolean).join(' ') || 'openid profile';
    if (!clientId) session.notice = 'Paste a client ID.';
    else if (!AUTH_METHODS.includes(authMethod)) session.notice = 'Choose a token endpoint auth method.';
    else if (authMethod !== 'none' && !clientSecret) session.notice = `Paste the client secret (or choose "none" for a public client).`;
    else {
      try {
        await startWithClient(context, session, { clientId, clientSecret, authMethod, scope });
      } catch (err) {
        session.notice = `Could not use this client with ${context.issuer.href}: ${describeError(err)}`;
      }
    }
    return backHome(reply);
  });

  app.post('/register', async (request, reply) => {
    const session = guarded(request, reply);
    if (!session) return reply;
    const token = field(request.body as Form, 'initial_access_token');
    if (!token) session.notice = 'Paste an initial access token.';
    else {
      try {
        await startWithRegistration(context, session, token);
      } catch (err) {
        session.notice = `Registration failed: ${describeError(err)}`;
      }
    }
    return backHome(reply);
  });

  app.get('/callback', async (request, reply) => {
    const session = sessionOf(request);
    if (!session?.client || !session.pending) {
      return refuse(
        reply,
        400,
        'No authorization was started from this browser (or it was already answered). Start one from the playground.',
      );
    }
    const callbackUrl = new URL(request.url, publicUrl);
    await completeAuthorization(context, session, callbackUrl);
    return backHome(reply);
  });

  /** The buttons under a finished flow; each needs a connected client (and tokens, where it says so). */
  const actions: [string, boolean, (session: PlaygroundSession) => Promise<void>][] = [
    ['/authorize', false, (session) => authorize(context, session)],
    ['/api-me', true, (session) => callApi(context, session)],
    ['/refresh', true, (session) => refreshTokens(context, session)],
    ['/revoke', true, (session) => revokeTokens(context, session)],
  ];
  for (const [path, needsTokens, action] of actions) {
    app.post(path, async (request, reply) => {
      const session = guarded(request, reply);
      if (!session) return reply;
      if (!session.client || (needsTokens && !session.tokens)) session.notice = 'Connect a client and finish an authorization first.';
      else if (path === '/refresh' && !session.tokens?.refreshToken)
        session.notice = 'There is no refresh token: the client may not use the refresh_token grant.';
      else await action(session);
      return backHome(reply);
    });
  }

  app.post('/reset', async (request, reply) => {
    const session = guarded(request, reply);
    if (!session) return reply;
    session.client = undefined;
    session.pending = undefined;
    session.authorizationUrl = undefined;
    session.tokens = undefined;
    session.steps = [];
    return backHome(reply);
  });
}
