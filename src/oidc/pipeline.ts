import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import middie from '@fastify/middie';
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { PROVIDER_PREFIXES, ROUTES } from '../endpoints.js';
import { writeJsonError, writeUnavailable } from '../http/json-errors.js';
import { hasUnstorableText, isStorable } from '../http/storable-text.js';
import { basicClientId, type TokenRateLimit } from '../limits/token-rate-limit.js';
import type { AuditLogger } from '../observability/audit.js';
import { containProviderErrors } from './contain-errors.js';
import { pinToIssuer } from './issuer-origin.js';
import type { ResourceStore } from '../resources/store.js';
import { hashPresentedSecret, hideStoredSecretHashes, isRegistrationUpdate } from './extensions/registration-secrets.js';
import { accessTokenJwtVerifier, looksLikeJwt, presentJwtByJti } from './extensions/jwt-access-tokens.js';
import type { RegistrationMode } from '../config.js';
import type { HourlyLimit } from '../limits/hourly-limit.js';
import { hideRegistrationEndpoint, registrationGate, type RegistrationGate } from './extensions/open-registration.js';
import { BodyRefused, formFields, handBodyToProvider, readProviderBody, type ProviderBody } from './request-body.js';

/**
 * Every step a request to a provider path (/oauth/*, /.well-known/*) goes through, in order.
 * This file is the whole list; each step lives in the room of its concern.
 *
 * Before the provider, on the raw Node request (Fastify's onRequest, through middie, so Fastify
 * never parses these bodies):
 *   1. readBody              the one bounded reader: urlencoded, multipart (curl -F), JSON, chunked;
 *                            56 KiB and 64 fields at most (413/400 `invalid_request`)
 *   2. refuseUnstorableText  a NUL or an unpaired surrogate anywhere in the path, the query, the form
 *                            or the JSON (values and keys), which PostgreSQL cannot store: 400
 *                            `invalid_request` (`invalid_client_metadata` for a registration body)
 *   3. limitTokenRequests    POST /oauth/token when TOKEN_RATE_LIMIT > 0: per IP and client (429)
 *   4. gateRegistration      POST /oauth/register by REGISTRATION: `off` refuses it (403); `open` counts
 *                            an anonymous one per IP (429) and gives it an initial access token of its
 *                            own, bound to the open rules (extensions/open-registration.ts); `token`
 *                            and any request with an Authorization header go on as they are; `open`
 *                            also answers CORS (any origin, no credentials) there
 *   5. hashUpdatedSecret     PUT /oauth/register/:id: a secret sent back is compared as its hash
 *   6. presentJwtAsJti       POST /oauth/introspect and /oauth/revoke: a JWT access token this server
 *                            signed (a resource's) goes to the provider as its jti, under which the
 *                            provider stored it (extensions/jwt-access-tokens.ts)
 *   7. loadResources         authorize, token, device, PAR and registration requests: the protected
 *                            resources are read (row cache) before the provider, which asks whether
 *                            a scope is a resource's without waiting (extensions/resource-scopes.ts)
 *   8. pinToIssuer           the provider sees the issuer's host and scheme, whatever the Host
 *                            header said: every URL it prints follows ISSUER (issuer-origin.ts)
 *   9. handToProvider        the body read in 1 goes to the provider as `req.body`
 * Inside the provider (its Koa middleware, outermost first, then its own action for the path):
 *   a. containProviderErrors      an unreachable database is a 503, not Koa's plain 500
 *   b. hideStoredSecretHashes     registration responses never carry the stored secret hash
 *   c. endConsoleSession          a confirmed logout ends the console session of that browser too
 *   d. hideRegistrationEndpoint   REGISTRATION=off: discovery names no registration endpoint
 *   e. count authenticated client the token rate limit's count, settled before the response leaves
 *   f. oidc-provider's action     with our extensions: password grant, implicit, hashed secrets, …
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
  issuer: string;
  trustProxy: boolean;
  resources: ResourceStore;
  registration: RegistrationMode;
  /** Counts anonymous registrations under REGISTRATION=open (absent: no limit). */
  registrationLimit?: HourlyLimit | undefined;
}

const clientIp = (raw: RawRequest) => raw.ip ?? raw.socket.remoteAddress ?? 'unknown';

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

/** `%00` decodes to NUL wherever it is (path, query, form); nothing else percent-encoded is unstorable. */
const PERCENT_NUL = '%00';
/** The JSON escapes that make a NUL or a surrogate (paired or not: the parse tells). */
const JSON_UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

const parseAll = (text: string) => parseQuery(text, '&', '=', { maxKeys: 0 });

function declaredCharset(contentType: string | undefined): string | undefined {
  return /;\s*charset=("?)([^";]+)\1/i.exec(contentType ?? '')?.[2];
}

/** Form fields, parsed only when their bytes could hold a NUL (or their charset is not UTF-8). */
function formHasUnstorableText(body: ProviderBody, contentType: string | undefined): boolean {
  if (body.kind === 'form') return hasUnstorableText(body.fields);
  if (body.kind !== 'urlencoded') return false;
  const charset = declaredCharset(contentType);
  const otherCharset = charset !== undefined && !/^utf-?8$/i.test(charset);
  if (!otherCharset && !body.bytes.includes(0) && !body.bytes.includes(PERCENT_NUL)) return false;
  // Our steps read the fields in the declared charset; the provider reads the bytes as UTF-8.
  return hasUnstorableText(formFields(body)) || (otherCharset && hasUnstorableText(parseAll(body.bytes.toString('utf8'))));
}

/** A JSON body (as the provider reads it: UTF-8), parsed once and only when an escape or a NUL byte is there. */
function jsonHasUnstorableText(bytes: Buffer): boolean {
  if (!bytes.includes(0) && !(bytes.includes('\\u') && JSON_UNSTORABLE_ESCAPE.test(bytes.toString('latin1')))) return false;
  let found = false;
  try {
    JSON.parse(bytes.toString('utf8'), (key, value: unknown) => {
      if (!isStorable(key) || (typeof value === 'string' && !isStorable(value))) found = true;
      return value;
    });
  } catch {
    return false; // not JSON: the provider refuses it itself
  }
  return found;
}

/** PostgreSQL stores no NUL and no unpaired surrogate: a request carrying one is refused here, whatever carries it. */
const refuseUnstorableText: Step = async (request) => {
  const { raw, res, path, body } = request;
  const url = raw.url ?? '';
  const q = url.indexOf('?');
  const query = q < 0 ? '' : url.slice(q + 1);
  const inUrl = path.includes(PERCENT_NUL) || (query.includes(PERCENT_NUL) && hasUnstorableText(parseAll(query)));
  let inBody: boolean;
  try {
    inBody = formHasUnstorableText(body, raw.headers['content-type']) || (body.kind === 'bytes' && jsonHasUnstorableText(body.bytes));
  } catch (err) {
    if (!(err instanceof BodyRefused)) throw err;
    writeJsonError(res, err.status, { error: 'invalid_request', error_description: err.description });
    return false;
  }
  if (!inUrl && !inBody) return true;
  const registration = path === ROUTES.registration || path.startsWith(`${ROUTES.registration}/`);
  const error = inBody && registration ? 'invalid_client_metadata' : 'invalid_request';
  const what = error === 'invalid_client_metadata' ? 'client metadata' : 'request parameters';
  writeJsonError(res, 400, { error, error_description: `${what} must not contain NUL characters or unpaired UTF-16 surrogates` });
  return false;
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
    const ip = clientIp(request.raw);
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

/** The decision lives with the rest of open registration; the pipeline only places it. */
const gateRegistration =
  (gate: RegistrationGate): Step =>
  ({ raw, res, path }) =>
    gate(raw, res, path, clientIp(raw));

const hashUpdatedSecret: Step = async (request) => {
  const { raw, path, body } = request;
  if (body.kind === 'bytes' && isRegistrationUpdate(raw.method, path, raw.headers['content-type'], ROUTES.registration)) {
    request.body = { kind: 'bytes', bytes: Buffer.from(hashPresentedSecret(body.bytes.toString('utf8'))) };
  }
  return true;
};

/** The provider refuses JWTs at these; it finds the token by its jti once we checked the signature. */
const TOKEN_LOOKUP_PATHS: readonly string[] = [ROUTES.introspection, ROUTES.revocation];

function presentJwtAsJti(provider: Provider): Step {
  const verify = accessTokenJwtVerifier(provider);
  return async (request) => {
    if (!verify || request.raw.method !== 'POST' || !TOKEN_LOOKUP_PATHS.includes(request.path)) return true;
    const fields = formFields(request.body);
    const presented = fields?.token;
    if (typeof presented !== 'string' || !looksLikeJwt(presented)) return true;
    const claims = await verify(presented);
    // Not ours: the provider answers as it does for any JWT (unsupported_token_type).
    if (!claims) return true;
    // The provider takes the fields as they are; the size only tells it that there is a body.
    const { body } = request;
    const size = body.kind === 'form' ? body.size : body.kind === 'urlencoded' ? body.bytes.length : 0;
    request.body = { kind: 'form', fields: { ...fields, token: claims.jti }, size };
    presentJwtByJti(request.raw, claims.jti);
    return true;
  };
}

/** The provider actions that check requested or registered scopes. */
const SCOPE_PATHS: readonly string[] = [
  ROUTES.authorization,
  ROUTES.token,
  ROUTES.device_authorization,
  ROUTES.pushed_authorization_request,
];

function loadResources(resources: ResourceStore): Step {
  return async (request) => {
    const { path } = request;
    if (SCOPE_PATHS.includes(path) || path === ROUTES.registration || path.startsWith(`${ROUTES.registration}/`))
      await resources.registered();
    return true;
  };
}

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
export async function mountProvider(app: FastifyInstance, options: PipelineOptions): Promise<void> {
  const { provider, tokenRateLimit, endConsoleSession } = options;
  const pin = pinToIssuer(options.issuer, options.trustProxy);
  const before: Step[] = [
    readBody,
    refuseUnstorableText,
    ...(tokenRateLimit ? [limitTokenRequests(tokenRateLimit)] : []),
    gateRegistration(registrationGate(provider, options.registration, options.registrationLimit, ROUTES.registration)),
    hashUpdatedSecret,
    presentJwtAsJti(provider),
    loadResources(options.resources),
  ];
  const inside: ProviderMiddleware[] = [
    containProviderErrors,
    hideStoredSecretHashes(ROUTES.registration),
    endConsoleSession,
    ...(options.registration === 'off' ? [hideRegistrationEndpoint] : []),
    ...(tokenRateLimit ? [tokenRateLimit.countAuthenticatedClients(provider)] : []),
  ];
  for (const middleware of inside) provider.use(middleware);
  const callback = provider.callback();

  const handle = async (request: ProviderRequest) => {
    for (const step of before) if (!(await step(request))) return;
    pin(request.raw);
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
