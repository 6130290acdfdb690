import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse, stringify } from 'node:querystring';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { OAUTH_BODY_LIMIT } from '../oidc/multipart-body.js';
import { ROUTES } from '../oidc/provider.js';
import type { ProviderGuard } from '../oidc/mount.js';
import { audit, type AuditLogger } from './audit.js';
import type { Metrics, RateLimitName } from './metrics.js';
import type { RateWindows, WindowCount } from './rate-windows.js';

type RawRequest = IncomingMessage & { body?: unknown; ip?: string; log?: AuditLogger };

class TooLarge extends Error {}

/** The client_id of HTTP Basic client authentication (RFC 6749 §2.3.1: form-encoded, then base64). */
function basicClientId(header: string | undefined): string | undefined {
  const match = header && /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Reads an urlencoded body (bounded) and hands it on parsed, as multipart-body.ts does for curl -F. */
async function parsedBody(req: RawRequest): Promise<Record<string, unknown>> {
  // Bytes from body-limits.ts (a chunked body): the provider parses those itself, so only read them.
  if (Buffer.isBuffer(req.body)) return parse(req.body.toString('utf8'));
  if (req.body && typeof req.body === 'object') return req.body as Record<string, unknown>;
  if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) return {};
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > OAUTH_BODY_LIMIT) throw new TooLarge();
    chunks.push(chunk);
  }
  const fields = parse(Buffer.concat(chunks).toString('utf8'));
  req.body = fields;
  req.headers['content-length'] = String(Buffer.byteLength(stringify(fields)));
  delete req.headers['transfer-encoding'];
  return fields;
}

function answer(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): false {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(JSON.stringify(body));
  return false;
}

const ipSubject = (ip: string) => `token:ip:${ip}`;
const clientSubject = (clientId: string) => `token:client:${clientId}`;

/**
 * TOKEN_RATE_LIMIT: requests per minute at POST /oauth/token, per IP and per client, counted in
 * the database so that every process enforces one budget. An IP is counted on arrival. A client
 * is counted once it has authenticated (so nobody can spend another client's budget by naming
 * it), and checked on arrival against what it has spent. Over the limit: 429 with Retry-After.
 */
export class TokenRateLimit {
  constructor(
    private readonly windows: RateWindows,
    private readonly limit: number,
    private readonly metrics: Metrics,
    private readonly log: AuditLogger & { warn(obj: object, msg?: string): void },
  ) {}

  readonly guard: ProviderGuard = async (req: RawRequest, res, path) => {
    if (path !== ROUTES.token || req.method !== 'POST') return true;
    let clientId = basicClientId(req.headers.authorization);
    if (!clientId) {
      try {
        const claimed = (await parsedBody(req)).client_id;
        clientId = typeof claimed === 'string' ? claimed : undefined;
      } catch (err) {
        if (!(err instanceof TooLarge)) throw err;
        return answer(res, 413, { error: 'invalid_request', error_description: 'request body is too large' }, { connection: 'close' });
      }
    }
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const [byIp, byClient] = await Promise.all([
      this.windows.hit([ipSubject(ip)]).then((rows) => rows[0]!),
      clientId ? this.windows.peek(clientSubject(clientId)) : undefined,
    ]);
    if (byIp.hits > this.limit) return this.refuse(req, res, 'token_ip', byIp, { ip });
    if (byClient && byClient.hits >= this.limit) return this.refuse(req, res, 'token_client', byClient, { ip, client_id: clientId });
    return true;
  };

  /**
   * Counts each request of an authenticated client, whatever its outcome, before its response
   * leaves: the provider's events start the count, a provider middleware awaits it (so the next
   * request, at any instance, sees it).
   */
  observe(provider: Provider): void {
    const counting = new WeakMap<IncomingMessage, Promise<void>>();
    const count = (ctx: KoaContextWithOIDC, err?: { error?: string }) => {
      const client = ctx.oidc.client;
      if (!client || err?.error === 'invalid_client') return;
      const hit = this.windows.hit([clientSubject(client.clientId)]).then(
        () => undefined,
        (e: unknown) => this.log.warn({ err: e }, 'could not count a token request'),
      );
      counting.set(ctx.req, hit);
    };
    provider.on('grant.success', (ctx) => count(ctx));
    provider.on('grant.error', (ctx, err) => count(ctx, err));
    provider.use(async (ctx, next) => {
      await next();
      await counting.get(ctx.req);
    });
  }

  private refuse(req: RawRequest, res: ServerResponse, limit: RateLimitName, count: WindowCount, fields: Record<string, string | undefined>): false {
    this.metrics.limited(limit);
    this.metrics.audited('rate_limit.exceeded');
    audit(req.log ?? this.log, 'rate_limit.exceeded', { limit, ...fields });
    return answer(
      res,
      429,
      { error: 'slow_down', error_description: `too many token requests; retry after ${count.retryAfter} seconds` },
      { 'retry-after': String(count.retryAfter) },
    );
  }
}

/** The guards app.ts hands mountProvider: none when TOKEN_RATE_LIMIT is 0 (off). */
export function tokenRateLimitGuards(
  limit: number,
  windows: RateWindows,
  provider: Provider,
  metrics: Metrics,
  log: AuditLogger & { warn(obj: object, msg?: string): void },
): ProviderGuard[] {
  if (limit <= 0) return [];
  const tokenLimit = new TokenRateLimit(windows, limit, metrics, log);
  tokenLimit.observe(provider);
  return [tokenLimit.guard];
}
