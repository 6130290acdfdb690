import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import handlebars from 'handlebars';
import { KeySets } from './id-token.js';
import type { PlaygroundOptions } from './options.js';
import { playgroundRoutes } from './routes.js';
import { SessionStore } from './sessions.js';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface BuildOptions extends Pick<PlaygroundOptions, 'issuer' | 'publicUrl'> {
  logLevel?: string;
}

/**
 * The playground: a small relying party of its own (a separate process and origin, like the
 * Authlib example's client on port 8000), which talks to Latchkey only over HTTP, through openid-client.
 */
export async function buildPlayground({ issuer, publicUrl, logLevel = 'info' }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: logLevel,
      // The callback's query holds a code: log paths only.
      serializers: { req: (req: { method: string; url: string }) => ({ method: req.method, path: req.url.split('?')[0] }) },
    },
    bodyLimit: 16 * 1024,
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with every form
    // POST, which the same-origin check below must refuse. Other sites still get no Referer.
    referrerPolicy: { policy: 'same-origin' },
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  await app.register(view, {
    engine: { handlebars: handlebars.create() },
    root: VIEWS_DIR,
    layout: 'playground/layout.hbs',
    viewExt: 'hbs',
    defaultContext: { issuer: issuer.href },
  });
  await app.register(fastifyStatic, { root: `${VIEWS_DIR}static`, prefix: '/static/', index: false, maxAge: 3600_000 });

  const redirectUri = new URL('/callback', publicUrl).href;
  await app.register(playgroundRoutes, {
    context: { issuer, redirectUri, keySets: new KeySets() },
    sessions: new SessionStore(),
    publicUrl,
  });
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'playground request failed');
    return reply.code(status).view('playground/message', {
      title: 'Sorry, that did not work',
      message: status === 500 ? 'Something went wrong in the playground.' : err.message,
    });
  });
  return app;
}
