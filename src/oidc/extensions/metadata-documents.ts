import type Provider from 'oidc-provider';
import { errors, type Configuration } from 'oidc-provider';
import { metadataDocumentProblem } from '../client-metadata.js';

type Feature = NonNullable<NonNullable<Configuration['features']>['clientIdMetadataDocument']>;

/** Seconds a fetched document is kept (its Cache-Control within these bounds); the provider keeps 100 at most. */
export const METADATA_CACHE_SECONDS = { min: 60, max: 3600 };

/**
 * Client ID Metadata Documents: a `client_id` that is an https URL names its own metadata,
 * fetched from there (through the provider's `fetch`, our guarded fetcher) and kept in the
 * provider's bounded cache. The provider checks that the document's `client_id` is its URL and
 * that it holds no secret; the rules of client-metadata.ts add what Latchkey accepts.
 */
export function metadataDocumentFeature(enabled: boolean): Feature {
  return {
    enabled,
    ack: 'draft-02',
    cacheDuration: METADATA_CACHE_SECONDS,
    allowClient: (_ctx, client) => {
      const problem = metadataDocumentProblem(client.metadata());
      if (problem) throw new errors.InvalidClient(`client_id metadata document refused: ${problem}`);
      return true;
    },
  };
}

type ClientClass = { find(id: string): Promise<unknown> };

/** Seconds a refused document stays refused without being fetched again, and how many are remembered. */
export const REFUSAL_SECONDS = 30;
const REFUSALS_KEPT = 1000;

/** The description to answer with when a metadata-document lookup failed for the client's sake (undefined otherwise). */
function refusal(err: unknown): string | undefined {
  if (err instanceof errors.InvalidClientMetadata) return `client_id metadata document refused: ${err.error_description ?? err.message}`;
  if (err instanceof errors.InvalidClient) return err.error_description ?? 'client_id metadata document refused';
  return undefined;
}

/**
 * A document that cannot be used is the client's fault, never the server's: the provider
 * answers some of them (wrong client_id inside, not an object, invalid metadata) with
 * invalid_client_metadata, a registration error. At the authorization and token endpoints
 * they become invalid_client, with the provider's reason as the description (never the
 * fetcher's, which could tell what an internal name resolves to). The provider caches only
 * documents it accepted; a refusal is remembered here for a while, so that neither repeated
 * requests nor the provider's second look-up of the same request fetch it again.
 */
export function refuseBadMetadataDocuments(provider: Provider, now: () => number = Date.now): void {
  const Client = provider.Client as unknown as ClientClass;
  const find = Client.find.bind(Client);
  const refused = new Map<string, { description: string; until: number }>();
  Client.find = async (id: string) => {
    if (typeof id !== 'string' || !/^https:\/\//i.test(id)) return find(id);
    const known = refused.get(id);
    if (known && known.until > now()) throw new errors.InvalidClient(known.description);
    try {
      return await find(id);
    } catch (err) {
      const description = refusal(err);
      if (description === undefined) throw err;
      refused.delete(id);
      if (refused.size >= REFUSALS_KEPT) refused.delete(refused.keys().next().value!);
      refused.set(id, { description, until: now() + REFUSAL_SECONDS * 1000 });
      throw new errors.InvalidClient(description);
    }
  };
}
