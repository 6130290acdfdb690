import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ProviderValidation } from './store.js';
import { ClientValidationError } from '../oidc/client-metadata.js';

/**
 * The provider's own check of client metadata (it knows rules ours do not spell out, e.g.
 * implicit web clients need https redirect URIs), its refusals turned into form problems.
 */
export function providerValidation(provider: Provider): ProviderValidation {
  return async (metadata) => {
    try {
      await provider.Client.validate(metadata as never);
    } catch (err) {
      if (!(err instanceof errors.InvalidClientMetadata)) throw err;
      const description = (err as { error_description?: string }).error_description ?? err.message;
      throw new ClientValidationError([`This client cannot be registered: ${description}.`]);
    }
  };
}
