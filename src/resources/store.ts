import type { Kysely } from 'kysely';
import { cachedRead, slotOf } from '../db/cache/row-cache.js';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';
import { apiResource, ResourceValidationError, validateResource, type Resource, type ResourceInput } from './rules.js';

/** The whole table is one slot of the row cache; migration 0009 announces any change to it as this slot. */
const SLOT = slotOf('resources', 'all');

const uniqueViolation = (err: unknown) => (err as { code?: unknown }).code === '23505';

/**
 * The protected resources: Latchkey's own API (always) and those registered in the table.
 * The table is read through the row cache, so every process sees a change as soon as the
 * database announces it (and reads the table afresh while the change feed is down).
 *
 * The provider asks whether a scope is known synchronously (src/oidc/extensions/resource-scopes.ts):
 * `knownScope` answers from the list read last, which the pipeline reads before every request
 * that may ask (src/oidc/pipeline.ts, loadResources) and the client store before it validates.
 */
export class ResourceStore {
  readonly api: Resource;
  #latest: readonly Resource[] = [];
  #latestScopes: ReadonlySet<string> = new Set();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly issuer: string,
  ) {
    this.api = apiResource(issuer);
  }

  /** The registered resources (not the API), oldest first. */
  async registered(): Promise<readonly Resource[]> {
    const read = async () => {
      const rows = await guarded(() =>
        this.db.selectFrom('resources').select(['uri', 'name', 'scopes']).orderBy('created_at').orderBy('uri').execute(),
      );
      return Object.freeze(rows.map((r) => Object.freeze({ uri: r.uri, name: r.name, scopes: Object.freeze(r.scopes.split(' ')) })));
    };
    const list = (await cachedRead(this.db, SLOT, read, { shared: true })) ?? [];
    if (list !== this.#latest) {
      this.#latest = list;
      this.#latestScopes = new Set(list.flatMap((r) => r.scopes));
    }
    return list;
  }

  /** Every resource: the API first. */
  async all(): Promise<Resource[]> {
    return [this.api, ...(await this.registered())];
  }

  /** The resource of exactly this indicator, if any. */
  async find(uri: string): Promise<Resource | undefined> {
    if (uri === this.api.uri) return this.api;
    return (await this.registered()).find((r) => r.uri === uri);
  }

  /** Whether a registered resource has this scope, as of the list read last. */
  knownScope(scope: string): boolean {
    return this.#latestScopes.has(scope);
  }

  /** The scopes of the registered resources, as of the list read last. */
  knownScopes(): readonly string[] {
    return [...this.#latestScopes];
  }

  async create(input: ResourceInput): Promise<Resource> {
    const resource = validateResource(input, this.issuer);
    try {
      await guarded(() =>
        this.db
          .insertInto('resources')
          .values({ uri: resource.uri, name: resource.name, scopes: resource.scopes.join(' ') })
          .execute(),
      );
    } catch (err) {
      if (uniqueViolation(err)) throw new ResourceValidationError(`a resource with URI "${resource.uri}" exists already`);
      throw err;
    }
    return resource;
  }

  /** Deletes a registered resource; false when there is none of that URI. */
  async delete(uri: string): Promise<boolean> {
    const result = await guarded(() => this.db.deleteFrom('resources').where('uri', '=', uri).executeTakeFirst());
    return result.numDeletedRows > 0n;
  }
}
