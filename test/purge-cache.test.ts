import t from 'tap';
import { rowCacheFor, slotOf } from '../src/db/cache/row-cache.js';
import { purgeExpired } from '../src/db/purge.js';
import { startServer } from './helpers/server.js';
import { token } from './helpers/oauth.js';

/** The purge deletes expired rows only, which no cache entry outlives: it must not empty the row cache. */

t.test('a purge keeps live cache entries; a write through the query builder still clears them', async (t) => {
  const { url, app } = await startServer(t);
  const cache = rowCacheFor(app.db)!;
  t.ok(cache, 'the database has a row cache');
  // The expired row first: inserting it is a write, which empties the cache by itself.
  await app.db
    .insertInto('oidc_payloads')
    .values({ model: 'AccessToken', key: 'expired-row', payload: JSON.stringify({}), expires_at: new Date(Date.now() - 60_000) })
    .execute();
  const slot = slotOf('Client', 'a-live-entry');
  const put = () => cache.set(slot, { payload: {} }, cache.generation, { shared: true });
  await token(url, { clientId: 'x', clientSecret: 'y' }, { grant_type: 'client_credentials' }, 'urlencoded'); // the feed starts
  for (let i = 0; i < 100 && cache.get(slot) === undefined; i++) {
    put();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.ok(cache.get(slot), 'an entry to keep');
  t.ok((await purgeExpired(app.db)) >= 1, 'the purge deleted the expired row');
  t.ok(cache.get(slot), 'and the live entry is still served');
  await app.db.updateTable('accounts').set({ username: 'nobody' }).where('id', '=', -1).execute();
  t.notOk(cache.get(slot), 'a write of a cached table through the query builder still empties it');
});
