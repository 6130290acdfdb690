import * as oidc from 'openid-client';
import type { AuthMethod, PendingAuthorization } from './sessions.js';

/** The playground as an OpenID Connect relying party: every call to Latchkey goes through openid-client. */

const TIMEOUT_SECONDS = 10;

function insecureOnHttp(issuer: URL): { execute: (typeof oidc.allowInsecureRequests)[]; timeout: number } {
  // Latchkey on a laptop speaks plain http on the loopback; openid-client insists on https unless told.
  return { execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [], timeout: TIMEOUT_SECONDS };
}

function clientAuthentication(method: AuthMethod, secret: string): oidc.ClientAuth {
  if (method === 'none') return oidc.None();
  if (method === 'client_secret_post') return oidc.ClientSecretPost(secret);
  return oidc.ClientSecretBasic(secret);
}

/** Reads the discovery document and returns a configuration for this client. */
export async function connect(issuer: URL, clientId: string, clientSecret: string, method: AuthMethod): Promise<oidc.Configuration> {
  return oidc.discovery(issuer, clientId, undefined, clientAuthentication(method, clientSecret), insecureOnHttp(issuer));
}

export const REGISTERED_METADATA = {
  client_name: 'Latchkey playground',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid profile',
} as const;

/** RFC 7591 registration with an initial access token; the client then authenticates with HTTP Basic. */
export async function register(
  issuer: URL,
  redirectUri: string,
  initialAccessToken: string,
): Promise<{ configuration: oidc.Configuration; metadata: Record<string, unknown> }> {
  const options = { ...insecureOnHttp(issuer), initialAccessToken };
  const registered = await oidc.dynamicClientRegistration(
    issuer,
    { ...REGISTERED_METADATA, redirect_uris: [redirectUri], grant_types: [...REGISTERED_METADATA.grant_types], response_types: ['code'] },
    undefined,
    options,
  );
  const clientMetadata = registered.clientMetadata();
  const secret = String(clientMetadata.client_secret ?? '');
  const configuration = new oidc.Configuration(
    registered.serverMetadata(),
    clientMetadata.client_id,
    clientMetadata,
    oidc.ClientSecretBasic(secret),
  );
  const metadata = { ...clientMetadata } as Record<string, unknown>;
  if (issuer.protocol === 'http:') oidc.allowInsecureRequests(configuration);
  return { configuration, metadata };
}

/** A new authorization request: code flow with PKCE (S256), state and nonce. */
export async function beginAuthorization(
  configuration: oidc.Configuration,
  redirectUri: string,
  scope: string,
): Promise<{ url: URL; pending: PendingAuthorization }> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const pending: PendingAuthorization = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier, scope };
  const url = oidc.buildAuthorizationUrl(configuration, {
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  return { url, pending };
}

export function wantsIdToken(scope: string): boolean {
  return scope.split(' ').includes('openid');
}

/** Checks the callback (state, iss, error) and exchanges its code; openid-client validates the id_token's claims. */
export async function exchangeCode(configuration: oidc.Configuration, callbackUrl: URL, pending: PendingAuthorization) {
  return oidc.authorizationCodeGrant(configuration, callbackUrl, {
    pkceCodeVerifier: pending.codeVerifier,
    expectedState: pending.state,
    ...(wantsIdToken(pending.scope) ? { expectedNonce: pending.nonce, idTokenExpected: true } : {}),
  });
}

export async function refresh(configuration: oidc.Configuration, refreshToken: string) {
  return oidc.refreshTokenGrant(configuration, refreshToken);
}

export async function revoke(configuration: oidc.Configuration, token: string, hint: 'access_token' | 'refresh_token'): Promise<void> {
  await oidc.tokenRevocation(configuration, token, { token_type_hint: hint });
}

export interface ApiAnswer {
  status: number;
  wwwAuthenticate: string | null;
  body: string;
}

/** GET /api/me with the access token as a Bearer token; a refusal is an answer to show, not a failure. */
export async function callApiMe(configuration: oidc.Configuration, issuer: URL, accessToken: string): Promise<ApiAnswer> {
  let response: Response;
  try {
    response = await oidc.fetchProtectedResource(configuration, accessToken, new URL('/api/me', issuer), 'GET');
  } catch (err) {
    if (!(err instanceof oidc.WWWAuthenticateChallengeError)) throw err;
    response = err.response;
  }
  return { status: response.status, wwwAuthenticate: response.headers.get('www-authenticate'), body: await response.text() };
}

/** One line for a failed openid-client call: the OAuth error when there is one, else the cause. */
export function describeError(err: unknown): string {
  const e = err as { error?: unknown; error_description?: unknown; message?: unknown; cause?: unknown };
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const challenge = err.cause.find((c) => typeof c.parameters.error === 'string');
    if (challenge) {
      const { error, error_description: description } = challenge.parameters;
      return `${err.status} ${description ? `${error}: ${description}` : error} (WWW-Authenticate: ${challenge.scheme})`;
    }
  }
  if (typeof e.error === 'string') {
    return typeof e.error_description === 'string' ? `${e.error}: ${e.error_description}` : e.error;
  }
  const message = typeof e.message === 'string' ? e.message : String(err);
  const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
  const detail = cause && typeof cause.message === 'string' ? ` (${cause.message})` : '';
  return `${message}${detail}`;
}
