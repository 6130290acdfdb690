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

/** Paths whose requests the provider answers; every other path is Fastify's. */
export const PROVIDER_PREFIXES = ['/oauth/', '/.well-known/'] as const;
