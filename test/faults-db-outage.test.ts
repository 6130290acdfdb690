import pg from 'pg';
import t from 'tap';
import { onPostgres } from './helpers/database.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

// The database goes away (here: the test's own database refuses connections and its sessions are
// ended, as in a failover), then comes back. The server stays up, says so at /readyz, fails fast
// with 503 meanwhile, and serves again by itself.

const READY_WITHIN_MS = 5000;
const FAIL_FAST_MS = 3000;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

t.test(
  'database outage and recovery',
  { skip: onPostgres ? false : 'needs PostgreSQL (the embedded database cannot become unreachable)' },
  async (t) => {
    const server = await startServer(t);
    const name = new URL(server.fresh.databaseUrl!).pathname.slice(1);
    const user = await createUser(server.app);
    const issued = await createClient(server.app, { grant_types: ['password', 'client_credentials'], response_types: [] });
    const client = { clientId: issued.clientId, clientSecret: issued.clientSecret };
    const before = await token(server.url, client, {
      grant_type: 'password',
      username: user.username,
      password: user.password,
      scope: 'profile',
    });
    t.equal(before.status, 200, 'a token before the outage');
    const accessToken: string = before.body.access_token;

    const restore = () => admin(`alter database ${name} allow_connections true`);
    t.teardown(restore);
    await admin(`alter database ${name} allow_connections false`);
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`);

    t.test('while the database is unreachable', async (t) => {
      const health = await fetch(`${server.url}/healthz`);
      t.equal(health.status, 200, '/healthz: the process is alive');

      const ready = await timed(() => fetch(`${server.url}/readyz`));
      t.equal(ready.value.status, 503, '/readyz: not ready');
      t.ok(ready.ms < READY_WITHIN_MS, `/readyz answered in ${Math.round(ready.ms)} ms`);

      const grant = await timed(() => token(server.url, client, { grant_type: 'client_credentials' }, 'urlencoded'));
      t.equal(grant.value.status, 503, 'token endpoint: 503');
      t.equal(grant.value.body.error, 'temporarily_unavailable');
      t.ok(grant.ms < FAIL_FAST_MS, `token endpoint failed fast (${Math.round(grant.ms)} ms)`);

      const password = await timed(() =>
        token(server.url, client, { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' }),
      );
      t.equal(password.value.status, 503, 'password grant: 503');
      t.ok(password.ms < FAIL_FAST_MS, `password grant failed fast (${Math.round(password.ms)} ms)`);

      const me = await timed(() => fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } }));
      t.equal(me.value.status, 503, '/api/me with a valid token: 503, not 401');
      t.ok(me.ms < FAIL_FAST_MS, `/api/me failed fast (${Math.round(me.ms)} ms)`);

      const introspection = await timed(() =>
        post(`${server.url}/oauth/introspect`, { token: accessToken }, { basicAuth: { id: client.clientId, secret: client.clientSecret } }),
      );
      t.equal(introspection.value.status, 503, 'introspection: 503');
      t.ok(introspection.ms < FAIL_FAST_MS, `introspection failed fast (${Math.round(introspection.ms)} ms)`);

      const discovery = await fetch(`${server.url}/.well-known/openid-configuration`);
      t.equal(discovery.status, 200, 'discovery needs no database and still answers');

      const metrics = await fetch(`${server.url}/metrics`);
      t.equal(metrics.status, 200, '/metrics still answers');
    });

    t.test('when the database is back', async (t) => {
      await restore();
      t.ok(
        await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, 10_000),
        '/readyz is ready again, without a restart',
      );
      const after = await token(server.url, client, { grant_type: 'client_credentials' });
      t.equal(after.status, 200, 'tokens are issued again');
      const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      t.equal(me.status, 200, 'the token from before the outage still works');
    });
  },
);
