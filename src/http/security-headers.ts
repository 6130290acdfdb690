import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import helmet from 'helmet';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface SecurityOptions {
  /** The issuer: its origin is the only one whose forms are accepted. */
  issuer: string;
  /** Cookie signing keys, newest first (sign with the first, accept any). */
  cookieKeys: string[];
}

export type PageHeaders = ReturnType<typeof helmet>;

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Cookie options for everything Latchkey's own pages set. */
export function cookieOptions(issuer: string) {
  return { path: '/', httpOnly: true, sameSite: 'lax', secure: issuer.startsWith('https:') } as const;
}

/**
 * The security headers of every page Latchkey serves, Fastify's and the provider's alike: a CSP
 * without inline script, no framing, HSTS on https. Built once (@fastify/helmet builds the whole
 * middleware again on every request: a third of the cost of a simple page), applied per request.
 */
export function pageHeaders(issuer: string): PageHeaders {
  const https = issuer.startsWith('https:');
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      // No form-action: the consent form's redirect chain ends at the client's redirect URI,
      // and Chromium applies form-action to every redirect of a form submission.
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with every form
    // POST, which the same-origin check below must refuse. Other sites still get no Referer.
    referrerPolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
}

/**
 * The security plumbing of Fastify's own pages: signed cookies (keys from the database),
 * CSRF tokens for forms, strict headers (a CSP without inline script), and a refusal of any
 * state-changing request sent from another origin, whatever token it carries.
 */
async function security(app: FastifyInstance, options: SecurityOptions): Promise<void> {
  const issuerOrigin = new URL(options.issuer).origin;

  await app.register(cookie, { secret: options.cookieKeys, hook: 'onRequest' });
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: '_csrf',
    cookieOpts: { ...cookieOptions(options.issuer), signed: true },
    logLevel: 'info',
  });
  const headers = pageHeaders(options.issuer);
  app.addHook('onRequest', (request, reply, done) => headers(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)));

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!UNSAFE_METHODS.has(request.method)) return;
    const origin = request.headers.origin;
    if (origin === undefined || origin === issuerOrigin) return;
    request.log.info({ origin }, 'cross-origin form refused');
    await reply.code(403).view('error', {
      title: 'Request refused',
      message: 'This form was sent from another site, so it was not accepted. Go back to Latchkey and try again.',
      error: 'cross_origin_request',
    });
    return reply;
  });
}

export const securityPlugin = fp(security, { name: 'latchkey-security', fastify: '5.x' });
