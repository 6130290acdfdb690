import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { createInitialAccessToken } from './registration.js';

/** Seconds the initial access token made for one anonymous registration lives (it is spent at once). */
const ANONYMOUS_TOKEN_SECONDS = 60;

/**
 * An anonymous registration (REGISTRATION=open, no Authorization header) goes to the provider
 * with an initial access token made for it alone, bound to the client rules and the open rules.
 * The provider then applies both as for any token and hands them on to the registration access
 * token, so the client's later updates (RFC 7592) are held to them too; turning the provider's
 * initial access tokens off instead would apply no rules at all. The token is destroyed once the
 * response has left, so it registers one client at most.
 */
export async function admitAnonymousRegistration(
  provider: Provider,
  headers: Record<string, string | string[] | undefined>,
  onDone: (spend: () => Promise<void>) => void,
): Promise<void> {
  const { token } = await createInitialAccessToken(provider, ANONYMOUS_TOKEN_SECONDS, true);
  headers.authorization = `Bearer ${token}`;
  onDone(async () => {
    const iat = await provider.InitialAccessToken.find(token);
    await iat?.destroy();
  });
}

/** Whether this request asks to register a client (POST to the registration endpoint itself). */
export function isRegistration(method: string | undefined, path: string, registrationPath: string): boolean {
  return method === 'POST' && path === registrationPath;
}

/** REGISTRATION=off: discovery does not announce the endpoint it refuses. */
export function hideRegistrationEndpoint(discoveryPaths: readonly string[]) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    await next();
    if (!discoveryPaths.includes(ctx.path) || !ctx.body || typeof ctx.body !== 'object') return;
    delete (ctx.body as Record<string, unknown>).registration_endpoint;
  };
}
