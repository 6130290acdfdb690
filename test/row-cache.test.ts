import pg from 'pg';
import t from 'tap';
import { sql } from 'kysely';
import { rowCacheFor, slotOf } from '../src/db/cache/row-cache.js';
import { sha256 } from '../src/crypto/hash.js';
import { onPostgres } from './helpers/database.js';
import { parseJsonOutput, runCli } from './helpers/cli.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { apiMe, passwordGrant, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

// Clients, grants and accounts are served from memory (src/db/cache/row-cache.ts). These tests make
// sure a change is never hidden by that cache: not in the process that made it, not in another
// process sharing the database, not when the change is made with plain SQL, nor while the
// database's change feed is down.

const machine = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'profile' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function clientCredentials(url: string, clientId: string, secret: string | undefined) {
  return token(url, { clientId, clientSecret: secret }, { grant_type: 'client_credentials' }, 'urlencoded');
}

/** Polls until `check` holds, for at most `ms`; returns how long it took (or -1). */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await sleep(20);
  }
  return -1;
}

t.test('in one process', async (t) => {
  const { url, app, fresh } = await startServer(t);

  t.test('a rotated secret stops working at once, the new one works at once', async (t) => {
    const client = await createClient(app, machine);
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200, 'cached now');
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200);
    const rotated = await app.clients.rotateSecret(client.clientId);
    const old = await clientCredentials(url, client.clientId, client.clientSecret);
    t.equal(old.status, 401);
    t.equal(old.body.error, 'invalid_client');
    t.equal((await clientCredentials(url, client.clientId, rotated!.clientSecret)).status, 200);
  });

  t.test('a deleted client stops working at once', async (t) => {
    const client = await createClient(app, machine);
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200);
    t.ok(await app.clients.delete(client.clientId));
    const gone = await clientCredentials(url, client.clientId, client.clientSecret);
    t.equal(gone.status, 401);
    t.equal(gone.body.error, 'invalid_client');
  });

  t.test('a client changed with plain SQL (psql, another tool) is seen', async (t) => {
    const client = await createClient(app, machine);
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200);
    const otherSecret = `sha256:${sha256('another secret')}`;
    await sql`update oidc_payloads set payload = jsonb_set(payload, '{client_secret}', to_jsonb(${otherSecret}::text))
              where model = 'Client' and key = ${sha256(client.clientId)}`.execute(app.db);
    // PGlite tells this process before the update returns; PostgreSQL's NOTIFY takes a moment.
    const took = await within(2000, async () => (await clientCredentials(url, client.clientId, client.clientSecret)).status === 401);
    t.ok(took >= 0, `the old secret is refused within ${took} ms`);
    t.equal((await clientCredentials(url, client.clientId, 'another secret')).status, 200, 'the new one works');
  });

  t.test("a grant deleted through this process's database handle stops its tokens at once", async (t) => {
    const user = await createUser(app);
    const client = await createClient(app, { scope: 'profile' });
    const { body } = await passwordGrant(url, client, user.username, user.password);
    t.equal((await apiMe(url, body.access_token)).status, 200, 'the grant is cached now');
    t.equal((await apiMe(url, body.access_token)).status, 200);
    const grantId = (await app.provider.AccessToken.find(body.access_token))!.grantId;
    await app.db.deleteFrom('oidc_payloads').where('model', '=', 'Grant').where('key', '=', sha256(grantId)).execute();
    t.equal((await apiMe(url, body.access_token)).status, 401, 'no waiting: the write emptied the cache');
  });

  t.test(
    'an account changed by another tool (its own connection) is seen within a moment',
    { skip: !onPostgres && 'the embedded database admits no other connection' },
    async (t) => {
      const user = await createUser(app);
      const client = await createClient(app, { scope: 'profile' });
      const { body } = await passwordGrant(url, client, user.username, user.password);
      t.equal((await apiMe(url, body.access_token)).body.username, user.username, 'the account is cached now');
      const renamed = `${user.username}-renamed`;
      const other = new pg.Client({ connectionString: fresh.databaseUrl });
      await other.connect();
      t.teardown(() => other.end());
      await other.query('update accounts set username = $1 where id = $2', [renamed, user.id]);
      const took = await within(2000, async () => (await apiMe(url, body.access_token)).body.username === renamed);
      t.ok(took >= 0, `the new name is served within ${took} ms`);
    },
  );

  t.test('writes to cached tables made with Kysely here empty the cache when they finish; reads do not', async (t) => {
    const cache = rowCacheFor(app.db)!;
    const slot = slotOf('Client', 'not-a-real-key');
    const put = () => cache.set(slot, { payload: {} }, cache.generation, { shared: true });
    await clientCredentials(url, 'x', 'y'); // any lookup: the change feed is up from now on
    await within(2000, async () => (put(), cache.get(slot) !== undefined));
    t.ok(cache.get(slot), 'an entry to lose');
    await app.db.selectFrom('oidc_payloads').select('key').where('model', '=', 'Client').execute();
    await sql`select count(*) from accounts`.execute(app.db);
    t.ok(cache.get(slot), 'kept across reads');
    // Changes no row, so the database announces nothing: only the write watcher can empty the cache.
    await app.db.updateTable('accounts').set({ username: 'nobody' }).where('id', '=', -1).execute();
    t.notOk(cache.get(slot), 'gone after an update through the query builder');
    put();
    await sql`delete from oidc_payloads where key = 'no such key'`.execute(app.db);
    t.notOk(cache.get(slot), 'gone after a plain SQL delete');
  });

  t.test('many requests at once are batched without mixing their answers', async (t) => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => createClient(app, machine)));
    const issued = await Promise.all(
      Array.from({ length: 60 }, (_, i) => clients[i % clients.length]!).map(async (c) => ({
        c,
        res: await clientCredentials(url, c.clientId, c.clientSecret),
      })),
    );
    t.ok(
      issued.every(({ res }) => res.status === 200),
      'sixty tokens issued at once',
    );
    t.equal(new Set(issued.map(({ res }) => res.body.access_token)).size, 60, 'all different');
    const seen = await Promise.all(
      issued.map(async ({ c, res }) => ({
        c,
        intro: await post(
          `${url}/oauth/introspect`,
          { token: res.body.access_token },
          { basicAuth: { id: c.clientId, secret: c.clientSecret } },
        ),
      })),
    );
    t.ok(
      seen.every(({ c, intro }) => intro.body.active === true && intro.body.client_id === c.clientId),
      'each token is stored, and found for its own client',
    );
  });
});

t.test('across processes sharing PostgreSQL', { skip: !onPostgres && 'the embedded database admits one process' }, async (t) => {
  const { url, app, fresh } = await startServer(t);
  // A client id may begin with "-", which the CLI would read as an option: use one that does not.
  const cliClient = async () => {
    for (;;) {
      const client = await createClient(app, machine);
      if (!client.clientId.startsWith('-')) return client;
    }
  };

  t.test('a secret rotated by the CLI (another process) stops working here within a moment', async (t) => {
    const client = await cliClient();
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200, 'cached now');
    const rotated = await runCli(fresh, ['client', 'rotate-secret', client.clientId, '--json']);
    t.equal(rotated.code, 0, rotated.stderr);
    const took = await within(1000, async () => (await clientCredentials(url, client.clientId, client.clientSecret)).status === 401);
    t.ok(took >= 0, `the old secret is refused within ${took} ms`);
    const secret = String(parseJsonOutput(rotated).client_secret);
    t.equal((await clientCredentials(url, client.clientId, secret)).status, 200, 'the new one works');
  });

  t.test('a client deleted by the CLI stops working here within a moment', async (t) => {
    const client = await cliClient();
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200, 'cached now');
    const deleted = await runCli(fresh, ['client', 'delete', client.clientId]);
    t.equal(deleted.code, 0, deleted.stderr);
    const took = await within(1000, async () => (await clientCredentials(url, client.clientId, client.clientSecret)).status === 401);
    t.ok(took >= 0, `refused within ${took} ms`);
  });

  t.test('while the server cannot hear changes, it does not serve clients from memory', async (t) => {
    const client = await cliClient();
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 200, 'cached now');
    // Cut the LISTEN connection and keep it from coming back (no new connections to this
    // database; the pool's open ones go on): changes now go unheard.
    const database = new URL(fresh.databaseUrl!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    t.teardown(() => admin.query(`alter database ${database} with allow_connections true`).finally(() => admin.end()));
    const listeners = sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`;
    const cut = await listeners.execute(app.db);
    t.equal(cut.rows.length, 1, 'the server listens');
    await admin.query(`alter database ${database} with allow_connections false`);
    await sql`select pg_terminate_backend(${cut.rows[0]!.pid})`.execute(app.db);
    await within(2000, async () => (await listeners.execute(app.db)).rows.length === 0);
    await sleep(300);
    await sql`delete from oidc_payloads where model = 'Client' and key = ${sha256(client.clientId)}`.execute(app.db);
    t.equal((await clientCredentials(url, client.clientId, client.clientSecret)).status, 401, 'read from the database');
    await admin.query(`alter database ${database} with allow_connections true`);
    const back = await within(15_000, async () => (await listeners.execute(app.db)).rows.length === 1);
    t.ok(back >= 0, 'the LISTEN connection comes back by itself');
  });
});
