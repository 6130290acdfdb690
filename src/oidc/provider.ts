import type { Kysely } from 'kysely';
import Provider, { type Configuration } from 'oidc-provider';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import { ROUTES, SCOPES } from '../endpoints.js';
import type { Schema } from '../db/schema.js';
import type { AccountStore } from '../accounts/store.js';
import type { CredentialLimiter } from '../limits/credential-limits.js';
import { KyselyAdapter } from './adapter/kysely-adapter.js';
import { GrantAdapter, grantsOf, loadExistingGrant } from './adapter/grants.js';
import { useHashedClientSecrets } from './extensions/client-secrets.js';
import { reuseBuiltClients } from './extensions/client-reuse.js';
import { enablePlainImplicit, implicitResponseTypes } from './extensions/implicit.js';
import type { KeyMaterial } from './keys.js';
import { registerPasswordGrant } from './extensions/password-grant.js';
import { introspectionAllowed, revocationAllowed } from './token-policies.js';
import { registrationFeature, selfRegisteredMetadata } from './extensions/registration.js';
import { isSelfRegistered } from './self-registered.js';
import { providerPages, type Render } from './pages.js';
import { pageHeaders } from '../http/security-headers.js';
import type { ResourceStore } from '../resources/store.js';
import { resourceIndicatorsFeature } from './extensions/resource-indicators.js';
import { knowResourceScopes } from './extensions/resource-scopes.js';
import { findJwtAccessTokens } from './extensions/jwt-access-tokens.js';
import { metadataDocumentFeature, refuseBadMetadataDocuments } from './extensions/metadata-documents.js';
import { createGuardedFetch } from '../http/guarded-fetch.js';
import { FetchBudget } from '../limits/fetch-budget.js';

export interface ProviderDeps {
  config: Config;
  db: Kysely<Schema>;
  keys: KeyMaterial;
  accounts: AccountStore;
  log: FastifyBaseLogger;
  render: Render;
  /** Failed password checks, shared with the sign-in form. */
  limiter: CredentialLimiter;
  /** The protected resources a token may be asked for (resource=URI). */
  resources: ResourceStore;
}

const DAY = 86_400;
/** The most a fetched document (metadata document, JWKS) may weigh. */
const FETCH_MAX_BYTES = 5 * 1024;

/**
 * Every URL the provider fetches goes through the guarded fetcher (src/http/guarded-fetch.ts),
 * within this process's fetch budget. The provider's own options (its dispatcher, whose
 * special-address check cannot be told about CLIENT_METADATA_ALLOW_HOSTS) are left aside; its
 * deadline is kept.
 */
function providerFetch(config: Config): NonNullable<Configuration['fetch']> {
  const budget = new FetchBudget({ perHostPerMinute: 20, totalPerMinute: 100, maxHosts: 10_000 });
  const guarded = createGuardedFetch({ ...config.metadataFetch, maxBytes: FETCH_MAX_BYTES, admit: (host) => budget.take(host) });
  return (input, init) => guarded(input instanceof Request ? input.url : input, { headers: init?.headers, signal: init?.signal });
}
/** Leeway for clock differences when the provider checks exp, nbf and iat (its default, stated). */
export const CLOCK_TOLERANCE_SECONDS = 15;

/** The OpenID Connect view of an account: sub, and preferred_username and name for `profile`. */
function oidcAccounts(accounts: AccountStore) {
  return async (_ctx: unknown, sub: string) => {
    const account = await accounts.findById(Number(sub));
    if (!account) return undefined;
    return {
      accountId: String(account.id),
      claims: async () => ({ sub: String(account.id), preferred_username: account.username, name: account.username }),
    };
  };
}

export function createProvider({ config, db, keys, accounts, log, render, limiter, resources }: ProviderDeps): Provider {
  const pages = providerPages(render, pageHeaders(config.issuer));
  const findAccount = oidcAccounts(accounts);
  const secureCookies = config.issuer.startsWith('https:');
  const cookie = { httpOnly: true, sameSite: 'lax', signed: true, secure: secureCookies } as const;

  const configuration: Configuration = {
    adapter: (name: string) => (name === 'Grant' ? new GrantAdapter(db) : new KyselyAdapter(name, db)),
    findAccount,
    // Remembered consent: a Grant from an earlier browser session spares the consent prompt.
    loadExistingGrant: loadExistingGrant(db),
    // amr (RFC 8176) in the ID token when the sign-in used a second factor: pwd, otp, mfa.
    claims: { openid: ['sub', 'amr'], profile: ['preferred_username', 'name'], email: ['email', 'email_verified'] },
    scopes: [...SCOPES],
    routes: ROUTES,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: keys.cookieKeys, long: cookie, short: cookie },
    jwks: keys.jwks as Configuration['jwks'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      userinfo: { enabled: true },
      registration: registrationFeature(() => [...SCOPES, ...resources.knownScopes()]),
      resourceIndicators: resourceIndicatorsFeature(resources, config.resourceTokenTtl),
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      deviceFlow: { enabled: true, ...pages.deviceFlow },
      rpInitiatedLogout: { enabled: true, ...pages.logout },
      clientIdMetadataDocument: metadataDocumentFeature(config.clientIdMetadataDocuments),
    },
    fetch: providerFetch(config),
    fetchResponseBodyLimits: { 'client_id metadata document': FETCH_MAX_BYTES, jwks_uri: FETCH_MAX_BYTES, sector_identifier_uri: 0 },
    responseTypes: implicitResponseTypes(config.implicitGrant) as Configuration['responseTypes'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    enabledJWA: {
      // Client secrets are stored hashed, so nothing symmetric keyed by them can work.
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      authorizationSigningAlgValues: ['RS256', 'ES256'],
    },
    // A client that registered itself uses PKCE whatever its auth method: nobody vouched for its secret.
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' || isSelfRegistered(client) },
    extraClientMetadata: selfRegisteredMetadata,
    // As the Authlib example: a client allowed to refresh gets a refresh token, no offline_access needed.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    ttl: {
      // A token for a protected resource lives RESOURCE_TOKEN_TTL (getResourceServerInfo's accessTokenTTL).
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.accessTokenTtl,
      RefreshToken: config.refreshTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      DeviceCode: 600,
      Interaction: 3600,
      Session: 14 * DAY,
      Grant: 365 * DAY,
    },
    renderError: pages.renderError,
    // Registration refuses sector_identifier_uri (pairwise subjects are off): never fetch one.
    sectorIdentifierUriValidate: () => false,
  };

  const provider = new Provider(config.issuer, configuration);
  // The pipeline hands the provider the issuer's host and scheme as forwarded headers, and the
  // client's address (the socket's, unless TRUST_PROXY): it reads them as a proxied request.
  provider.proxy = true;
  if (config.implicitGrant) enablePlainImplicit(provider);
  useHashedClientSecrets(provider);
  reuseBuiltClients(provider);
  refuseBadMetadataDocuments(provider);
  knowResourceScopes(provider, resources);
  findJwtAccessTokens(provider, keys.jwks, CLOCK_TOLERANCE_SECONDS);
  registerPasswordGrant(provider, SCOPES, {
    accounts,
    limiter,
    findAccount,
    existingGrantId: async (accountId, clientId) => (await grantsOf(db, accountId, clientId, 1))[0]?.grantId,
    grantReuseMargin: Math.max(config.accessTokenTtl, config.refreshTokenTtl),
  });
  provider.on('server_error', (ctx, err) => {
    log.error({ err, path: ctx.path, method: ctx.method }, 'oidc-provider server error');
  });
  return provider;
}
