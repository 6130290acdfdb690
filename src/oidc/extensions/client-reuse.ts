import { hash } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import { asStoredClient } from './resource-scopes.js';

type ProviderClient = InstanceType<Provider['Client']>;
interface ClientClass {
  new (metadata: ClientMetadata): ProviderClient;
  find(id: string): Promise<ProviderClient | undefined>;
  readonly adapter: { find(id: string): Promise<object | undefined> };
}

/** As the provider keeps clients built from stored metadata: by a hash of that metadata, 100 at most. */
const BUILT_BY_HASH = 100;

/**
 * oidc-provider builds a Client from the stored metadata on every lookup it cannot answer from
 * its own cache, and to consult that cache it serializes and hashes the metadata every time.
 * The adapter hands out the same metadata object while a client's row is unchanged (the row
 * cache), so the Client built from it is kept beside that object and returned as is: no
 * serializing, hashing or validating on the hot path. A changed row is a new object, hence a
 * newly built and validated Client; metadata read afresh (no cache) falls back to the hash.
 */
const builtByProvider = new WeakMap<Provider, WeakMap<object, ProviderClient>>();

/** The Client already built from this very metadata object (as the row cache hands it out), if any. */
export function builtClient(provider: Provider, metadata: object): ProviderClient | undefined {
  return builtByProvider.get(provider)?.get(metadata);
}

export function reuseBuiltClients(provider: Provider): void {
  const Client = provider.Client as unknown as ClientClass;
  const providerFind = Client.find.bind(Client);
  const byObject = new WeakMap<object, ProviderClient>();
  builtByProvider.set(provider, byObject);
  const byHash = new Map<string, ProviderClient>();

  const build = async (id: string, metadata: object): Promise<ProviderClient | undefined> => {
    // A sector identifier is fetched and checked by the provider itself, asynchronously.
    if ((metadata as ClientMetadata).sector_identifier_uri !== undefined) return providerFind(id);
    const key = hash('sha256', JSON.stringify(metadata), 'base64url');
    let client = byHash.get(key);
    if (!client) {
      // Throws on invalid metadata, as the provider's lookup does (scopes aside: see asStoredClient).
      client = asStoredClient(() => new Client(metadata as ClientMetadata));
      if (byHash.size >= BUILT_BY_HASH) byHash.delete(byHash.keys().next().value!);
      byHash.set(key, client);
    }
    return client;
  };

  Client.find = async (id: string) => {
    if (typeof id !== 'string' || !id.length) return undefined;
    const metadata = await Client.adapter.find(id);
    if (!metadata) return providerFind(id); // not stored: whatever else the provider knows (metadata documents)
    let client = byObject.get(metadata);
    if (!client) {
      client = await build(id, metadata);
      if (client) byObject.set(metadata, client);
    }
    return client;
  };
}
