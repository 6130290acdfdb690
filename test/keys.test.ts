import t from 'tap';
import { rotateKeys } from '../src/oidc/keys.js';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { json } from './helpers/http.js';
import { startServer } from './helpers/server.js';

type Jwk = { kid: string; alg: string };
const kids = async (url: string): Promise<string[]> => ((await json(fetch(`${url}/oauth/jwks`))).keys as Jwk[]).map((k) => k.kid).sort();

t.test('keys survive a restart', async (t) => {
  const fresh = await freshDatabase(t);
  const first = await startServer(t, { fresh });
  const before = await kids(first.url);
  t.equal(before.length, 2, 'an RS256 and an ES256 key');
  await first.app.close();
  const second = await startServer(t, { fresh });
  t.same(await kids(second.url), before, 'the same kids after a restart');
});

t.test(
  'two instances on one database publish the same JWKS',
  { skip: !onPostgres && 'the embedded database admits one process' },
  async (t) => {
    const fresh = await freshDatabase(t);
    const [a, b] = await Promise.all([startServer(t, { fresh }), startServer(t, { fresh })]);
    const aKids = await kids(a.url);
    t.equal(aKids.length, 2, 'no duplicate keys from a concurrent first start');
    t.same(await kids(b.url), aKids);
  },
);

t.test('rotation adds a current key and keeps the previous one published', async (t) => {
  const fresh = await freshDatabase(t);
  const first = await startServer(t, { fresh });
  const before = await kids(first.url);
  await first.app.close();

  const database = await fresh.open();
  const added = await rotateKeys(database.db, 3600);
  await database.close();
  t.equal(added.length, 2);

  const second = await startServer(t, { fresh });
  const { keys } = await json(fetch(`${second.url}/oauth/jwks`));
  const published = (keys as Jwk[]).map((k) => k.kid);
  t.same(published.slice().sort(), [...before, ...added].sort(), 'old and new keys are published');
  for (const alg of ['RS256', 'ES256']) {
    const first = (keys as Jwk[]).find((k) => k.alg === alg);
    t.ok(first && added.includes(first.kid), `the new ${alg} key comes first (it signs)`);
  }

  await second.app.close();
  const again = await fresh.open();
  await again.db
    .updateTable('signing_keys')
    .set({ retire_at: new Date(Date.now() - 1000) })
    .where('kid', 'in', before)
    .execute();
  await again.close();
  const third = await startServer(t, { fresh });
  t.same(await kids(third.url), added.slice().sort(), 'a retired key is no longer published once its tokens have expired');
});
