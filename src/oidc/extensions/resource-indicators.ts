import { errors, type Configuration } from 'oidc-provider';
import type { ResourceStore } from '../../resources/store.js';

type ResourceIndicatorsFeature = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;

/** The algorithm of resource tokens: RS256 is what every JWT library verifies. */
const RESOURCE_TOKEN_ALG = 'RS256';

/**
 * RFC 8707 resource indicators: `resource=URI` of a registered resource (or of the API) yields
 * a JWT access token (RFC 9068) whose audience is that URI and whose scopes are the asked ones
 * the resource has. An unknown resource is `invalid_target`. Without `resource` nothing is
 * defaulted, so such requests get the opaque tokens they always got.
 */
export function resourceIndicatorsFeature(resources: ResourceStore, accessTokenTTL: number): ResourceIndicatorsFeature {
  return {
    enabled: true,
    // One resource granted and none asked: that one; several: the request must choose.
    defaultResource: async (_ctx, _client, oneOf) => oneOf,
    // A code exchange or a refresh without `resource` keeps the resource granted at authorization.
    useGrantedResource: async () => true,
    getResourceServerInfo: async (_ctx, indicator) => {
      const resource = await resources.find(indicator);
      if (!resource) throw new errors.InvalidTarget('the resource is not registered with this server');
      return {
        scope: resource.scopes.join(' '),
        audience: resource.uri,
        accessTokenTTL,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: RESOURCE_TOKEN_ALG } },
      };
    },
  };
}
