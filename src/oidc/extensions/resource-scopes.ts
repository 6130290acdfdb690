import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import type { ResourceStore } from '../../resources/store.js';

/** Building a client from stored metadata: its scopes were checked when it was registered. */
let buildingStoredClient = 0;

/**
 * The provider's scopes are fixed when it is constructed; the scopes of registered resources
 * come and go while it runs. The provider asks its scope set `has(scope)` in two places that
 * matter: when it checks a client's registered `scope` (only known scopes may be registered)
 * and when it holds a token request to the client's registered scopes. There, a resource's
 * scope is known as the server's own are. Iterating the set (discovery's scopes_supported) and
 * the provider's filter of the OpenID Connect scopes of a request (`Set.prototype.has` bound to
 * the set) still see the server's own scopes only.
 *
 * A client registered for the scope of a resource deleted since keeps working (its metadata
 * is not checked against the scopes again when it is built from storage); it just gets no
 * token for that scope. This reaches into the provider's internals: the version is pinned, and
 * test/resources-tokens.test.ts fails if an upgrade changes the mechanism.
 */
export function knowResourceScopes(provider: Provider, resources: ResourceStore): void {
  const internals = instance(provider) as { configuration?: { scopes?: unknown } } | undefined;
  const scopes = internals?.configuration?.scopes;
  if (!(scopes instanceof Set)) throw new Error('oidc-provider internals changed: cannot add the scopes of protected resources');
  const own = Set.prototype.has;
  Object.defineProperty(scopes, 'has', {
    value: (scope: unknown) =>
      own.call(scopes, scope) || (typeof scope === 'string' && (buildingStoredClient > 0 || resources.knownScope(scope))),
  });
}

/** Runs `build` (synchronous: the provider's Client constructor) without checking scopes against the resources. */
export function asStoredClient<T>(build: () => T): T {
  buildingStoredClient++;
  try {
    return build();
  } finally {
    buildingStoredClient--;
  }
}
