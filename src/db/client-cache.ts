import type { Kysely } from 'kysely';
import type { Schema } from './schema.js';

/** The channel on which PostgreSQL announces (by trigger, migration 0003) a changed or deleted client row. */
export const CLIENT_CHANGED_CHANNEL = 'latchkey_client_changed';

const TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;

export interface CachedRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
}

/**
 * Client rows of oidc_payloads kept in memory, by their key (SHA-256 of the client id), so
 * the token endpoint does not read the same client from the database on every request.
 *
 * It serves entries only while it hears about every change: a change or deletion of a client
 * row, by any process, is announced by the database (trigger + NOTIFY) and forgets that entry
 * at once; writes through this process's adapter forget it before they return. When that feed
 * is down (connection lost), the cache is emptied and bypassed until it is back. A TTL bounds
 * any entry's age anyway.
 */
export class ClientCache {
  readonly #entries = new Map<string, { row: CachedRow; expires: number }>();
  #listening = false;
  /** Bumped by every forget: a read that started before it must not be stored. */
  #generation = 0;

  constructor(private readonly startFeed: () => void = () => {}) {}

  get generation(): number {
    return this.#generation;
  }

  get(key: string): CachedRow | undefined {
    if (!this.#listening) {
      this.startFeed();
      return undefined;
    }
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return { payload: structuredClone(entry.row.payload), consumed_at: entry.row.consumed_at };
  }

  /** Stores a row read from the database, unless something was forgotten since the read began. */
  set(key: string, row: CachedRow, readStartedAt: number): void {
    if (!this.#listening || readStartedAt !== this.#generation) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(key, { row: { payload: structuredClone(row.payload), consumed_at: row.consumed_at }, expires: Date.now() + TTL_MS });
  }

  forget(key: string): void {
    this.#generation++;
    this.#entries.delete(key);
  }

  /** The change feed is (back) up: start from nothing, since changes may have been missed. */
  feedUp(): void {
    this.#generation++;
    this.#entries.clear();
    this.#listening = true;
  }

  feedDown(): void {
    this.#generation++;
    this.#entries.clear();
    this.#listening = false;
  }
}

const byDatabase = new WeakMap<Kysely<Schema>, ClientCache>();
const everyCache = new Set<ClientCache>();

export function registerClientCache(db: Kysely<Schema>, cache: ClientCache): () => void {
  byDatabase.set(db, cache);
  everyCache.add(cache);
  return () => {
    byDatabase.delete(db);
    everyCache.delete(cache);
  };
}

/** The cache of the database `db` was opened as (none for transactions and unregistered handles). */
export function clientCacheFor(db: Kysely<Schema>): ClientCache | undefined {
  return byDatabase.get(db);
}

/** Drops a client (by key) from every cache in this process: called by every write of a client row. */
export function forgetClientKey(key: string): void {
  for (const cache of everyCache) cache.forget(key);
}

/** A cache for `db` fed by `subscribe`, registered until the returned close() is called. */
export async function cacheClients(
  db: Kysely<Schema>,
  subscribe: (cache: ClientCache) => { start(): void; close(): Promise<void> } | Promise<{ start(): void; close(): Promise<void> }>,
): Promise<{ close(): Promise<void> }> {
  let feed: { start(): void; close(): Promise<void> } | undefined;
  const cache = new ClientCache(() => feed?.start());
  feed = await subscribe(cache);
  const unregister = registerClientCache(db, cache);
  return {
    async close() {
      unregister();
      await feed?.close();
    },
  };
}
