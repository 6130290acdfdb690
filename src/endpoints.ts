/** The provider's endpoint paths (under the issuer) and the scopes it knows: part of the public contract. */
export const SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export const ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  jwks: '/oauth/jwks',
  userinfo: '/oauth/userinfo',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  registration: '/oauth/register',
  end_session: '/oauth/logout',
  device_authorization: '/oauth/device/auth',
  code_verification: '/oauth/device',
  pushed_authorization_request: '/oauth/par',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
  credential: '/oauth/credential',
} as const;

/**
 * The client metadata property that marks a client registered without an initial access token
 * (REGISTRATION=open): true, or absent. Shown in registration responses.
 */
export const SELF_REGISTERED = 'latchkey_self_registered';

/** Latchkey's own API as a protected resource: its indicator is ISSUER + API_PATH. */
export const API_PATH = '/api';
/** The scopes /api/me accepts: the API resource's scopes. */
export const API_SCOPES = ['profile'] as const;
/** RFC 9728 metadata of the API (Fastify's route, although under /.well-known/). */
export const API_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource/api';

/**
 * Paths whose requests the provider answers; every other path is Fastify's (a path of these
 * that Fastify itself routes, API_RESOURCE_METADATA_PATH, never reaches the provider).
 */
export const PROVIDER_PREFIXES = ['/oauth/', '/.well-known/'] as const;
