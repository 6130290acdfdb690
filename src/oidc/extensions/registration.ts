import type Provider from 'oidc-provider';
import { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { SELF_REGISTERED } from '../../endpoints.js';
import { newClientId, newClientSecret } from '../client-ids.js';
import { ClientValidationError, isRedirectProblem, REFUSED_METADATA, validateClientInput, type ClientInput } from '../client-metadata.js';

/**
 * RFC 7591 dynamic registration and RFC 7592 management follow the rules of the web form
 * and the command line (src/oidc/client-metadata.ts). The rules run as a registration policy:
 * every initial access token made here carries it, and the provider hands it on to the
 * registration access token, so updates (PUT) are held to the same rules.
 */
export const CLIENT_RULES_POLICY = 'latchkey-client-rules';

/**
 * The rules of an anonymous registration (REGISTRATION=open), on top of the client rules: a
 * code-flow client only, redirected to https or to a loopback address, marked self-registered.
 * Carried to the registration access token like the client rules, so an update cannot leave them.
 */
export const OPEN_RULES_POLICY = 'latchkey-open-registration';

/*
 * The stored marker of a client that registered itself is an extra client metadata property
 * (SELF_REGISTERED), kept in the client's stored metadata. Only OPEN_RULES_POLICY sets it;
 * every other registration drops it.
 */

type Properties = ClientMetadata & Record<string, unknown>;

function optionalString(properties: Properties, name: string): string | undefined {
  const value = properties[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new errors.InvalidClientMetadata(`${name} must be a string`);
  return value;
}

function optionalStrings(properties: Properties, name: string): string[] | undefined {
  const value = properties[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new errors.InvalidClientMetadata(`${name} must be an array of strings`);
  }
  return value as string[];
}

/** The registration as the web form would see it, with RFC 7591's defaults filled in. */
function asClientInput(properties: Properties, scopes: readonly string[]): ClientInput {
  const grantTypes = optionalStrings(properties, 'grant_types') ?? ['authorization_code'];
  return {
    // A name is optional in RFC 7591; the form's name rules apply only when one is given.
    client_name: optionalString(properties, 'client_name') ?? 'unnamed',
    client_uri: optionalString(properties, 'client_uri'),
    redirect_uris: optionalStrings(properties, 'redirect_uris') ?? [],
    post_logout_redirect_uris: optionalStrings(properties, 'post_logout_redirect_uris'),
    grant_types: grantTypes,
    // Without response types, a client gets "code" only when it may use the authorization code grant.
    response_types: optionalStrings(properties, 'response_types') ?? (grantTypes.includes('authorization_code') ? ['code'] : []),
    // Without a scope the client is not limited to a list (RFC 7591 §2), so any known scope.
    scope: optionalString(properties, 'scope') ?? scopes.join(' '),
    token_endpoint_auth_method: optionalString(properties, 'token_endpoint_auth_method') ?? 'client_secret_basic',
  };
}

function rulesPolicy(knownScopes: () => readonly string[]) {
  return (_ctx: KoaContextWithOIDC, properties: ClientMetadata): void => {
    const metadata = properties as Properties;
    const scopes = knownScopes();
    // Only the open rules mark a client; whoever registers with a token cannot claim the mark.
    delete metadata[SELF_REGISTERED];
    // Before anything else, and before the provider builds the client (which would fetch it).
    for (const [name, problem] of Object.entries(REFUSED_METADATA)) {
      if (metadata[name] !== undefined) throw new errors.InvalidClientMetadata(problem);
    }
    let valid: ClientInput;
    try {
      valid = validateClientInput(asClientInput(metadata, scopes), scopes);
    } catch (err) {
      if (!(err instanceof ClientValidationError)) throw err;
      const aboutRedirects = err.problems.every(isRedirectProblem);
      // The provider answers invalid_redirect_uri for descriptions that start with "redirect_uris".
      throw new errors.InvalidClientMetadata(`${aboutRedirects ? 'redirect_uris: ' : ''}${err.problems.join(' ')}`);
    }
    // Registered as validated: trimmed, without duplicates, defaults made explicit.
    const stored: Record<string, unknown> = metadata;
    stored.redirect_uris = valid.redirect_uris;
    if (stored.post_logout_redirect_uris !== undefined) stored.post_logout_redirect_uris = valid.post_logout_redirect_uris ?? [];
    stored.grant_types = valid.grant_types;
    stored.response_types = valid.response_types;
    stored.token_endpoint_auth_method = valid.token_endpoint_auth_method;
    if (stored.client_name !== undefined) stored.client_name = valid.client_name;
    if (stored.client_uri !== undefined) {
      if (valid.client_uri) stored.client_uri = valid.client_uri;
      else delete stored.client_uri;
    }
    if (stored.scope !== undefined) stored.scope = valid.scope;
  };
}

const OPEN_GRANT_TYPES = ['authorization_code', 'refresh_token'];
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** https anywhere, or http to a loopback address on any port (RFC 8252 §7.3). */
function openRedirectAllowed(uri: string): boolean {
  const url = URL.parse(uri);
  if (!url) return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
}

/** Runs after the client rules, which have made the defaults explicit. */
function openRulesPolicy(_ctx: KoaContextWithOIDC, properties: ClientMetadata): void {
  const metadata = properties as Properties;
  const grantTypes = (metadata.grant_types ?? []) as string[];
  if (!grantTypes.includes('authorization_code') || grantTypes.some((g) => !OPEN_GRANT_TYPES.includes(g))) {
    throw new errors.InvalidClientMetadata(
      'a client registering itself may only use the authorization_code grant (and refresh_token); ask the administrator for an initial access token for anything else',
    );
  }
  const responseTypes = (metadata.response_types ?? []) as string[];
  if (responseTypes.length !== 1 || responseTypes[0] !== 'code') {
    throw new errors.InvalidClientMetadata('a client registering itself may only use the "code" response type');
  }
  for (const name of ['redirect_uris', 'post_logout_redirect_uris']) {
    const refused = ((metadata[name] ?? []) as string[]).find((uri) => !openRedirectAllowed(uri));
    if (refused === undefined) continue;
    // The provider answers invalid_redirect_uri for descriptions that start with "redirect_uris".
    throw new errors.InvalidClientMetadata(
      `${name}: "${refused}" is refused: a client registering itself redirects to https, or to http on a loopback address (127.0.0.1, [::1], localhost)`,
    );
  }
  // The provider would fetch a key set from this address for whoever registered it.
  if (metadata.jwks_uri !== undefined) throw new errors.InvalidClientMetadata('jwks_uri is not accepted from a client registering itself');
  metadata[SELF_REGISTERED] = true;
}

type RegistrationFeature = NonNullable<NonNullable<Configuration['features']>['registration']>;

/**
 * features.registration: initial access tokens required, our id/secret shapes, our rules.
 * `knownScopes`: the server's scopes and those of the protected resources, read before the request.
 */
export function registrationFeature(knownScopes: () => readonly string[]): RegistrationFeature {
  return {
    enabled: true,
    initialAccessToken: true,
    idFactory: newClientId,
    secretFactory: async () => newClientSecret(),
    policies: { [CLIENT_RULES_POLICY]: rulesPolicy(knownScopes), [OPEN_RULES_POLICY]: openRulesPolicy },
  };
}

type ExtraClientMetadata = NonNullable<Configuration['extraClientMetadata']>;

/** The self-registered marker as a client metadata property the provider keeps: true, or absent. */
export const selfRegisteredMetadata: ExtraClientMetadata = {
  properties: [SELF_REGISTERED],
  validator: (_ctx, key, value) => {
    if (key === SELF_REGISTERED && value !== undefined && value !== true) {
      throw new errors.InvalidClientMetadata(`${SELF_REGISTERED} is set by the server only`);
    }
  },
};

export interface IssuedInitialAccessToken {
  token: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/**
 * An initial access token for POST /oauth/register, bound to the client rules (and, for the one
 * an anonymous registration is given, to the open rules too).
 */
export async function createInitialAccessToken(provider: Provider, expiresIn: number, open = false): Promise<IssuedInitialAccessToken> {
  const policies = open ? [CLIENT_RULES_POLICY, OPEN_RULES_POLICY] : [CLIENT_RULES_POLICY];
  const iat = new provider.InitialAccessToken({ expiresIn, policies });
  const token = await iat.save();
  return { token, expiresAt: iat.exp ?? Math.floor(Date.now() / 1000) + expiresIn };
}
