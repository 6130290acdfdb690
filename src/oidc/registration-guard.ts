import type { IncomingMessage } from 'node:http';
import type Provider from 'oidc-provider';
import { HASHED_SECRET_PREFIX } from './adapter.js';
import { sha256 } from './hash.js';
import { OAUTH_BODY_LIMIT } from './multipart-body.js';

type RequestWithBody = IncomingMessage & { body?: unknown };

/** The whole body as text, or undefined when it is larger than the provider would read. */
async function readText(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req) {
    received += (chunk as Buffer).length;
    if (received > OAUTH_BODY_LIMIT) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * RFC 7592 lets a client send its secret back in an update, and the provider compares it
 * with the stored value: a hash here. The presented secret is hashed the same way first, so
 * the right secret matches and anything else (the stored hash itself included) does not.
 */
function hashPresentedSecret(raw: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return raw; // the provider answers the parse error itself
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return raw;
  const body = parsed as Record<string, unknown>;
  if (typeof body.client_secret !== 'string') return raw;
  return JSON.stringify({ ...body, client_secret: HASHED_SECRET_PREFIX + sha256(body.client_secret) });
}

function withoutStoredHash(body: unknown): void {
  if (!body || typeof body !== 'object' || Buffer.isBuffer(body)) return;
  const record = body as Record<string, unknown>;
  if (typeof record.client_secret === 'string' && record.client_secret.startsWith(HASHED_SECRET_PREFIX)) {
    delete record.client_secret;
  }
}

/**
 * Around the registration endpoints (/oauth/register and /oauth/register/:client_id):
 * secrets presented in updates are compared as hashes, and no response ever carries the
 * stored hash as if it were the client's secret (a client's secret is shown once, at creation).
 */
export function guardRegistration(provider: Provider, registrationPath: string): void {
  const clientPrefix = `${registrationPath}/`;
  provider.use(async (ctx, next) => {
    if (ctx.path !== registrationPath && !ctx.path.startsWith(clientPrefix)) return next();
    if (ctx.method === 'PUT' && ctx.path.startsWith(clientPrefix) && ctx.is('application/json')) {
      const raw = await readText(ctx.req);
      if (raw === undefined) {
        ctx.status = 413;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: 'invalid_request', error_description: 'request body is too large' };
        return;
      }
      // The provider reads an already read body from req.body.
      (ctx.req as RequestWithBody).body = hashPresentedSecret(raw);
    }
    await next();
    withoutStoredHash(ctx.body);
  });
}
