import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { RegistrationMode } from '../../config.js';
import { writeJsonError } from '../../http/json-errors.js';
import type { HourlyLimit } from '../../limits/hourly-limit.js';
import { createInitialAccessToken } from './registration.js';

/** Seconds the initial access token made for one anonymous registration lives (it is spent at once). */
const ANONYMOUS_TOKEN_SECONDS = 60;

/**
 * Under REGISTRATION=open, MCP clients that run in a browser (the MCP Inspector, say) register
 * from their own origin. Registration reads no cookie, so any origin may: nothing ambient is
 * sent along (no Access-Control-Allow-Credentials). The provider answers no preflight there.
 */
function answerPreflight(res: ServerResponse): false {
  res.writeHead(204, {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': 'Content-Type, Authorization',
    'access-control-max-age': '600',
  });
  res.end();
  return false;
}

/** Resolves true to pass the request on to the provider, or answers it and resolves false. */
export type RegistrationGate = (raw: IncomingMessage, res: ServerResponse, path: string, ip: string) => Promise<boolean>;

/**
 * POST /oauth/register by REGISTRATION (and, under `open`, its CORS preflight). `off`: 403, token or not (the provider's registration
 * stays on, so that clients registered earlier keep their RFC 7592 management). `token`, or any
 * request with an Authorization header: on to the provider as it is. `open` without one: counted
 * per IP, then handed to the provider with an initial access token made for it alone, bound to
 * the client rules and the open rules. The provider applies both as for any token and hands them
 * on to the registration access token, so the client's later updates are held to them too;
 * turning the provider's initial access tokens off instead would apply no rules at all. The token
 * is destroyed once the response has left, so it registers one client at most.
 */
export function registrationGate(
  provider: Provider,
  mode: RegistrationMode,
  limit: HourlyLimit | undefined,
  registrationPath: string,
): RegistrationGate {
  return async (raw, res, path, ip) => {
    if (path !== registrationPath) return true;
    if (mode === 'open' && raw.method === 'OPTIONS') return answerPreflight(res);
    if (raw.method !== 'POST') return true;
    if (mode === 'off') {
      writeJsonError(res, 403, {
        error: 'access_denied',
        error_description: 'client registration is turned off on this server (REGISTRATION=off): ask its administrator for a client',
      });
      return false;
    }
    if (mode === 'open') res.setHeader('access-control-allow-origin', '*');
    if (mode === 'token' || raw.headers.authorization !== undefined) return true;
    const verdict = limit ? await limit.attempt(ip) : { allowed: true as const };
    if (!verdict.allowed) {
      writeJsonError(
        res,
        429,
        { error: 'slow_down', error_description: `too many client registrations; retry after ${verdict.retryAfter} seconds` },
        { 'retry-after': String(verdict.retryAfter) },
      );
      return false;
    }
    const { token } = await createInitialAccessToken(provider, ANONYMOUS_TOKEN_SECONDS, true);
    raw.headers.authorization = `Bearer ${token}`;
    res.once('close', () => {
      // The token expires within a minute anyway: a failed clean-up costs nothing.
      void (async () => (await provider.InitialAccessToken.find(token))?.destroy())().catch(() => undefined);
    });
    return true;
  };
}

/** The provider's discovery documents (OpenID Connect Discovery and RFC 8414). */
const DISCOVERY_PATHS: readonly string[] = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/** REGISTRATION=off: discovery does not announce the endpoint it refuses. */
export async function hideRegistrationEndpoint(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  if (!DISCOVERY_PATHS.includes(ctx.path) || !ctx.body || typeof ctx.body !== 'object') return;
  delete (ctx.body as Record<string, unknown>).registration_endpoint;
}
