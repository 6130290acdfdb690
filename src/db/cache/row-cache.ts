import type { Kysely } from 'kysely';
import type { Schema } from '../schema.js';

/** The channel on which PostgreSQL announces (triggers of migration 0005) a changed or deleted cached row. */
export const ROW_CHANGED_CHANNEL = 'latchkey_row_changed';

const TTL_MS = 30_000;
/** Entries per generation; the cache holds at most two generations (the recent and the one before). */
const GENERATION_SIZE = 10_000;

/** Where a cached value lives: "<model>\0<key>" for oidc_payloads rows, "account\0<id>" for accounts. */
export const slotOf = (kind: string, key: string | number) => `${kind}\u0000${key}`;

/** The slot a change notification names ("<model>:<key>", "account:<id>"). */
export function slotOfNotification(payload: string): string {
  const colon = payload.indexOf(':');
  return slotOf(payload.slice(0, colon), payload.slice(colon + 1));
}

interface Entry {
  value: unknown;
  expires: number;
  grantKey: string | null;
}

/**
 * Rows read often and changed rarely (clients, grants, accounts), kept in memory so that a
 * request does not read them from the database again and again. Never access tokens, codes,
 * refresh tokens or sessions.
 *
 * How an entry is forgotten, all of it:
 * 1. Any process or tool changes or deletes a cached row: the database announces it (triggers
 *    of migration 0005, NOTIFY on ROW_CHANGED_CHANNEL) and the feed (feed.ts) forgets that slot.
 * 2. This process's adapter writes a row: it forgets the slot before the write returns
 *    (forgetRow / forgetGrantRows, in every cache of the process: tests run several apps).
 * 3. Any other write to a cached table through this process's Kysely clears the cache when it
 *    finishes (InvalidateOnWrite), so its author sees the effect at once.
 * 4. The feed is down: the cache is emptied and bypassed until it is back (changes may be missed).
 * 5. Time: no entry lives longer than 30 s or than its row's expiry. That is why the purge, which
 *    deletes only expired rows, runs without clearing anything.
 * A read that began before any forget is not stored (the generation counter).
 */
export class RowCache {
  #recent = new Map<string, Entry>();
  #older = new Map<string, Entry>();
  #listening = false;
  /** Bumped by every forget: a read that began before it must not be stored. */
  #generation = 0;

  constructor(private readonly startFeed: () => void = () => {}) {}

  get generation(): number {
    return this.#generation;
  }

  /**
   * The cached value, or undefined. A copy unless `shared`: callers that never change what they
   * get (or build something new from it) may take the cached object itself.
   */
  get<T>(slot: string, shared = false): T | undefined {
    if (!this.#listening) {
      this.startFeed();
      return undefined;
    }
    let entry = this.#recent.get(slot);
    if (!entry) {
      entry = this.#older.get(slot);
      if (entry) this.#insert(slot, entry);
    }
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.forget(slot);
      return undefined;
    }
    return (shared ? entry.value : structuredClone(entry.value)) as T;
  }

  /** Stores a value read from the database, unless something was forgotten since the read began. */
  set(
    slot: string,
    value: unknown,
    readStartedAt: number,
    options: { expiresAt?: Date | null; grantKey?: string | null; shared?: boolean } = {},
  ): void {
    if (!this.#listening || readStartedAt !== this.#generation) return;
    // An unreadable expiry (NaN) counts as already past: such a row is not kept.
    const rowExpiry = options.expiresAt ? options.expiresAt.getTime() || 0 : Infinity;
    const expires = Math.min(Date.now() + TTL_MS, rowExpiry);
    if (expires <= Date.now()) return;
    this.#insert(slot, { value: options.shared ? value : structuredClone(value), expires, grantKey: options.grantKey ?? null });
  }

  #insert(slot: string, entry: Entry): void {
    this.#recent.set(slot, entry);
    if (this.#recent.size >= GENERATION_SIZE) {
      this.#older = this.#recent;
      this.#recent = new Map();
    }
  }

  forget(slot: string): void {
    this.#generation++;
    this.#recent.delete(slot);
    this.#older.delete(slot);
  }

  /** Forgets the rows of one grant (tokens revoked by grant, whose own ids are unknown). */
  forgetGrant(grantKey: string): void {
    this.#generation++;
    for (const map of [this.#recent, this.#older]) {
      for (const [slot, entry] of map) if (entry.grantKey === grantKey) map.delete(slot);
    }
  }

  clear(): void {
    this.#generation++;
    this.#recent.clear();
    this.#older.clear();
  }

  /** The change feed is (back) up: start from nothing, since changes may have been missed. */
  feedUp(): void {
    this.clear();
    this.#listening = true;
  }

  feedDown(): void {
    this.clear();
    this.#listening = false;
  }
}

const byDatabase = new WeakMap<Kysely<Schema>, RowCache>();
const everyCache = new Set<RowCache>();

export function registerRowCache(db: Kysely<Schema>, cache: RowCache): () => void {
  byDatabase.set(db, cache);
  everyCache.add(cache);
  return () => {
    byDatabase.delete(db);
    everyCache.delete(cache);
  };
}

/** The cache of the database `db` was opened as (none for transactions and other handles). */
export function rowCacheFor(db: Kysely<Schema>): RowCache | undefined {
  return byDatabase.get(db);
}

/** Drops a row from every cache in this process: called around every write of a cacheable row. */
export function forgetRow(slot: string): void {
  for (const cache of everyCache) cache.forget(slot);
}

export function forgetGrantRows(grantKey: string): void {
  for (const cache of everyCache) cache.forgetGrant(grantKey);
}

/** What the cache of `db` holds in `slot`, shared (never to be changed by the caller): undefined if nothing. */
export function cachedValue<T>(db: Kysely<Schema>, slot: string): T | undefined {
  return rowCacheFor(db)?.get<T>(slot, true);
}

/**
 * A read through the cache of `db`: a hit, or `read()` stored for the next time (when `db` has a
 * cache and nothing changed meanwhile). `shared`: hits return the cached object itself, the same
 * one every time until the row changes (for callers that never modify it).
 */
export async function cachedRead<T>(
  db: Kysely<Schema>,
  slot: string,
  read: () => Promise<T | undefined>,
  options: { describe?: (value: T) => { expiresAt?: Date | null; grantKey?: string | null }; shared?: boolean } = {},
): Promise<T | undefined> {
  const cache = rowCacheFor(db);
  if (!cache) return read();
  const hit = cache.get<T>(slot, options.shared);
  if (hit !== undefined) return hit;
  const readStartedAt = cache.generation;
  const value = await read();
  if (value !== undefined) cache.set(slot, value, readStartedAt, { ...options.describe?.(value), shared: options.shared });
  return value;
}
