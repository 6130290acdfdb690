import type { IncomingMessage, ServerResponse } from 'node:http';
import middie from '@fastify/middie';
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { PROVIDER_PREFIXES, ROUTES } from '../endpoints.js';
import { writeJsonError, writeUnavailable } from '../http/json-errors.js';
import { basicClientId, type TokenRateLimit } from '../limits/token-rate-limit.js';
import type { AuditLogger } from '../observability/audit.js';
import { containProviderErrors } from './contain-errors.js';
import { hashPresentedSecret, hideStoredSecretHashes, isRegistrationUpdate } from './extensions/registration-secrets.js';
import { BodyRefused, formFields, handBodyToProvider, readProviderBody, type ProviderBody } from './request-body.js';

/**
 * Every step a request to a provider path (/oauth/*, /.well-known/*) goes through, in order.
 * This file is the whole list; each step lives in the room of its concern.
 *
 * Before the provider, on the raw Node request (Fastify's onRequest, through middie, so Fastify
 * never parses these bodies):
 *   1. readBody            the one bounded reader: urlencoded, multipart (curl -F), JSON, chunked;
 *                          56 KiB and 64 fields at most (413/400 `invalid_request`)
 *   2. limitTokenRequests  POST /oauth/token when TOKEN_RATE_LIMIT > 0: per IP and client (429)
 *   3. hashUpdatedSecret   PUT /oauth/register/:id: a secret sent back is compared as its hash
 *   4. handToProvider      the body read in 1 goes to the provider as `req.body`
 * Inside the provider (its Koa middleware, outermost first, then its own action for the path):
 *   a. containProviderErrors      an unreachable database is a 503, not Koa's plain 500
 *   b. hideStoredSecretHashes     registration responses never carry the stored secret hash
 *   c. endConsoleSession          a confirmed logout ends the console session of that browser too
 *   d. count authenticated client the token rate limit's count, settled before the response leaves
 *   e. oidc-provider's action     with our extensions: password grant, implicit, hashed secrets, …
 * Around all of it: an error no step answered is a 503 (database) or a 500, in JSON.
 */

type RawRequest = IncomingMessage & { body?: unknown; ip?: string; log?: AuditLogger };

/** What the steps before the provider share: the raw request, its path, and its body once read. */
interface ProviderRequest {
  readonly raw: RawRequest;
  readonly res: ServerResponse;
  readonly path: string;
  body: ProviderBody;
}

/** Resolves true to pass the request on, or answers it itself and resolves false. */
type Step = (request: ProviderRequest) => Promise<boolean>;

export interface PipelineOptions {
  provider: Provider;
  /** Present when TOKEN_RATE_LIMIT is on. */
  tokenRateLimit?: TokenRateLimit | undefined;
  /** Ends the console session of a browser that confirmed an RP-initiated logout. */
  endConsoleSession: ProviderMiddleware;
}

const readBody: Step = async (request) => {
  try {
    request.body = await readProviderBody(request.raw, request.path);
    return true;
  } catch (err) {
    if (!(err instanceof BodyRefused)) throw err;
    const headers: Record<string, string> = err.status === 413 ? { connection: 'close' } : {};
    writeJsonError(request.res, err.status, { error: 'invalid_request', error_description: err.description }, headers);
    return false;
  }
};

function claimedClientId({ raw, body }: ProviderRequest): string | undefined {
  const basic = basicClientId(raw.headers.authorization);
  if (basic) return basic;
  const claimed = formFields(body)?.client_id;
  return typeof claimed === 'string' ? claimed : undefined;
}

function limitTokenRequests(limit: TokenRateLimit): Step {
  return async (request) => {
    if (request.path !== ROUTES.token || request.raw.method !== 'POST') return true;
    const ip = request.raw.ip ?? request.raw.socket.remoteAddress ?? 'unknown';
    const refusal = await limit.check({ ip, clientId: claimedClientId(request) }, request.raw.log);
    if (!refusal) return true;
    writeJsonError(
      request.res,
      429,
      { error: 'slow_down', error_description: `too many token requests; retry after ${refusal.retryAfter} seconds` },
      { 'retry-after': String(refusal.retryAfter) },
    );
    return false;
  };
}

const hashUpdatedSecret: Step = async (request) => {
  const { raw, path, body } = request;
  if (body.kind === 'bytes' && isRegistrationUpdate(raw.method, path, raw.headers['content-type'], ROUTES.registration)) {
    request.body = { kind: 'bytes', bytes: Buffer.from(hashPresentedSecret(body.bytes.toString('utf8'))) };
  }
  return true;
};

type ProviderMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

function ownedByProvider(path: string): boolean {
  return PROVIDER_PREFIXES.some((prefix) => path.startsWith(prefix));
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Mounts the provider on its own paths with the steps above; every other path stays Fastify's.
 * middie lives in a context of its own whose only routes are those paths, so its per-request
 * work is done for the provider's requests alone.
 */
export async function mountProvider(app: FastifyInstance, { provider, tokenRateLimit, endConsoleSession }: PipelineOptions): Promise<void> {
  const before: Step[] = [readBody, ...(tokenRateLimit ? [limitTokenRequests(tokenRateLimit)] : []), hashUpdatedSecret];
  const inside: ProviderMiddleware[] = [
    containProviderErrors,
    hideStoredSecretHashes(ROUTES.registration),
    endConsoleSession,
    ...(tokenRateLimit ? [tokenRateLimit.countAuthenticatedClients(provider)] : []),
  ];
  for (const middleware of inside) provider.use(middleware);
  const callback = provider.callback();

  const handle = async (request: ProviderRequest) => {
    for (const step of before) if (!(await step(request))) return;
    handBodyToProvider(request.raw, request.body);
    await callback(request.raw, request.res);
  };

  await app.register(async (oidc) => {
    await oidc.register(middie, { hook: 'onRequest' });
    oidc.use((req: RawRequest, res: ServerResponse, next: (err?: unknown) => void) => {
      const path = pathOf(req.url ?? '/');
      if (!ownedByProvider(path)) return next();
      handle({ raw: req, res, path, body: { kind: 'none' } }).catch((err: unknown) => {
        const unavailable = isDatabaseUnavailable(err);
        if (!unavailable) oidc.log.error({ err }, 'provider request failed');
        if (res.headersSent) return;
        if (unavailable) writeUnavailable(res);
        else writeJsonError(res, 500, { error: 'server_error', error_description: 'something went wrong' });
      });
    });
    // Never reached: the middleware above answers every request these routes match.
    for (const prefix of PROVIDER_PREFIXES) oidc.all(`${prefix}*`, async (_request, reply) => reply.code(404).send({ error: 'not_found' }));
  });
}
