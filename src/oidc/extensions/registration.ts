import type Provider from 'oidc-provider';
import { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { newClientId, newClientSecret } from '../client-ids.js';
import { ClientValidationError, isRedirectProblem, REFUSED_METADATA, validateClientInput, type ClientInput } from '../client-metadata.js';

/**
 * RFC 7591 dynamic registration and RFC 7592 management follow the rules of the web form
 * and the command line (src/oidc/client-metadata.ts). The rules run as a registration policy:
 * every initial access token made here carries it, and the provider hands it on to the
 * registration access token, so updates (PUT) are held to the same rules.
 */
export const CLIENT_RULES_POLICY = 'latchkey-client-rules';

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
    policies: { [CLIENT_RULES_POLICY]: rulesPolicy(knownScopes) },
  };
}

export interface IssuedInitialAccessToken {
  token: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** An initial access token for POST /oauth/register, bound to the client rules. */
export async function createInitialAccessToken(provider: Provider, expiresIn: number): Promise<IssuedInitialAccessToken> {
  const iat = new provider.InitialAccessToken({ expiresIn, policies: [CLIENT_RULES_POLICY] });
  const token = await iat.save();
  return { token, expiresAt: iat.exp ?? Math.floor(Date.now() / 1000) + expiresIn };
}
