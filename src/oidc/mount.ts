import middie from '@fastify/middie';
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import { prepareOAuthBody } from './multipart-body.js';

function ownedByProvider(path: string): boolean {
  return path.startsWith('/oauth/') || path.startsWith('/.well-known/');
}

/**
 * Hands the provider its own paths (/oauth/*, /.well-known/*) before Fastify parses any
 * body; every other path stays Fastify's.
 */
export async function mountProvider(app: FastifyInstance, provider: Provider): Promise<void> {
  await app.register(middie, { hook: 'onRequest' });
  const callback = provider.callback();
  app.use((req, res, next) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!ownedByProvider(path)) return next();
    prepareOAuthBody(req, res, path)
      .then((proceed) => (proceed ? callback(req, res) : undefined))
      .catch((err: unknown) => {
        app.log.error({ err }, 'provider request failed');
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.end(JSON.stringify({ error: 'server_error', error_description: 'something went wrong' }));
        }
      });
  });
}
