import middie from '@fastify/middie';
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { prepareOAuthBody } from './multipart-body.js';

/**
 * A check that runs before the provider sees a request (after multipart bodies are parsed):
 * resolves true to let it through, or answers the request itself and resolves false.
 */
export type ProviderGuard = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, path: string) => Promise<boolean>;

const PROVIDER_PREFIXES = ['/oauth/', '/.well-known/'];

function ownedByProvider(path: string): boolean {
  return PROVIDER_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/**
 * Hands the provider its own paths (/oauth/*, /.well-known/*) before Fastify parses any
 * body; every other path stays Fastify's. middie lives in a context of its own whose only
 * routes are those paths, so its per-request work is done for the provider's requests alone.
 */
export async function mountProvider(app: FastifyInstance, provider: Provider, guards: readonly ProviderGuard[] = []): Promise<void> {
  await app.register(async (oidc) => {
    await oidc.register(middie, { hook: 'onRequest' });
    handToProvider(oidc, provider, guards);
    // Never reached: the middleware above answers every request these routes match.
    for (const prefix of PROVIDER_PREFIXES) oidc.all(`${prefix}*`, async (_request, reply) => reply.code(404).send({ error: 'not_found' }));
  });
}

function handToProvider(app: FastifyInstance, provider: Provider, guards: readonly ProviderGuard[]): void {
  const callback = provider.callback();
  app.use((req, res, next) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!ownedByProvider(path)) return next();
    const run = async () => {
      if (!(await prepareOAuthBody(req, res, path))) return;
      for (const guard of guards) if (!(await guard(req, res, path))) return;
      await callback(req, res);
    };
    run().catch((err: unknown) => {
      const unavailable = isDatabaseUnavailable(err);
      if (!unavailable) app.log.error({ err }, 'provider request failed');
      if (!res.headersSent) {
        res.statusCode = unavailable ? 503 : 500;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        if (unavailable) res.setHeader('retry-after', '5');
        res.end(
          JSON.stringify(
            unavailable
              ? { error: 'temporarily_unavailable', error_description: 'the database is unavailable, try again shortly' }
              : { error: 'server_error', error_description: 'something went wrong' },
          ),
        );
      }
    });
  });
}
