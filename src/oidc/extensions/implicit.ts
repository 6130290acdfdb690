import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

/** What the provider accepts at construction (it refuses plain "token" there since v7). */
export function implicitResponseTypes(implicitGrant: boolean): string[] {
  const base = ['code', 'none'];
  return implicitGrant ? [...base, 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token'] : base;
}

/**
 * OAuth 2.0 implicit (response_type=token, RFC 6749 §4.2), which the Authlib example uses. oidc-provider 9
 * still implements it but its configuration check refuses it, so it is added to the validated
 * configuration afterwards. This reaches into the provider's internals: the version is pinned,
 * and test/implicit.test.ts fails if an upgrade removes the mechanism.
 */
export function enablePlainImplicit(provider: Provider): void {
  const internals = instance(provider) as { configuration?: { responseTypes?: unknown } } | undefined;
  const responseTypes = internals?.configuration?.responseTypes;
  if (!Array.isArray(responseTypes)) {
    throw new Error('oidc-provider internals changed: cannot enable response_type=token');
  }
  if (!responseTypes.includes('token')) responseTypes.push('token');
}
