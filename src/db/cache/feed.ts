import type { PGlite } from '@electric-sql/pglite';
import type { Kysely, KyselyPlugin } from 'kysely';
import { ChangeFeed } from './change-feed.js';
import { InvalidateOnWrite } from './invalidate-on-write.js';
import { registerRowCache, ROW_CHANGED_CHANNEL, RowCache, slotOfNotification } from './row-cache.js';
import type { Schema } from '../schema.js';

/** A database's row cache: the Kysely plugin to open it with, then attach() once it is open. */
export interface RowCacheWiring {
  plugins: KyselyPlugin[];
  /** Registers the cache for `db` and starts hearing changes; resolves to the function that stops. */
  attach(db: Kysely<Schema>): Promise<() => Promise<void>>;
}

/** PostgreSQL: changes arrive on a LISTEN connection of their own, opened on the first read. */
export function postgresRowCache(url: string): RowCacheWiring {
  // The cache starts the feed on its first read, after both exist.
  const cache = new RowCache(() => changes.start());
  const changes = new ChangeFeed(url, ROW_CHANGED_CHANNEL, {
    onNotification: (payload) => cache.forget(slotOfNotification(payload)),
    onUp: () => cache.feedUp(),
    onDown: () => cache.feedDown(),
  });
  return {
    plugins: [new InvalidateOnWrite(cache)],
    async attach(db) {
      const unregister = registerRowCache(db, cache);
      return async () => {
        unregister();
        await changes.close();
      };
    },
  };
}

/** The embedded database: one process owns it, and its notifications arrive before a write returns. */
export function pgliteRowCache(pglite: PGlite): RowCacheWiring {
  const cache = new RowCache();
  return {
    plugins: [new InvalidateOnWrite(cache)],
    async attach(db) {
      const unlisten = await pglite.listen(ROW_CHANGED_CHANNEL, (payload) => cache.forget(slotOfNotification(payload)));
      cache.feedUp();
      const unregister = registerRowCache(db, cache);
      return async () => {
        unregister();
        cache.feedDown();
        await unlisten();
      };
    },
  };
}
