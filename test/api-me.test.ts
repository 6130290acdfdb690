import { connect, createServer, type Server, type Socket } from 'node:net';
import t from 'tap';
import { sql } from 'kysely';
import { sha256 } from '../src/crypto/hash.js';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { apiMe, passwordGrant, post } from './helpers/oauth.js';
import { freePort, startServer } from './helpers/server.js';

const challenge = (res: { headers: Headers }) => res.headers.get('www-authenticate') ?? '';

t.test('GET /api/me', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app, { scope: 'openid profile' });
  const auth = { id: client.clientId, secret: client.clientSecret };
  const issue = async (scope = 'profile') => (await passwordGrant(url, client, user.username, user.password, scope)).body;

  t.test('answers exactly {"id", "username"} for a profile token', async (t) => {
    const { access_token } = await issue();
    const me = await apiMe(url, access_token);
    t.equal(me.status, 200);
    t.equal(me.text, JSON.stringify({ id: user.id, username: user.username }));
    t.equal(typeof me.body.id, 'number');
    t.match(me.headers.get('content-type'), /^application\/json/);
    t.equal(me.headers.get('cache-control'), 'no-store');
    t.equal(me.headers.get('x-content-type-options'), 'nosniff');
    t.notOk(me.headers.get('set-cookie'), 'the API sets no cookie');
  });

  t.test('no token: 401 and a challenge without an error code (RFC 6750 §3.1)', async (t) => {
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearer a b']) {
      const me = await apiMe(url, undefined, authorization ? { headers: { authorization } } : {});
      t.equal(me.status, 401, `${authorization}`);
      t.equal(me.body.error, 'invalid_token');
      t.match(
        challenge(me),
        /^Bearer realm="http:\/\/127\.0\.0\.1:\d+", scope="profile", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/api"$/,
      );
    }
  });

  t.test('a token anywhere but the Authorization header is not read', async (t) => {
    const { access_token } = await issue();
    const query = await fetch(`${url}/api/me?access_token=${access_token}`);
    t.equal(query.status, 401);
  });

  t.test('an unknown token: 401 invalid_token', async (t) => {
    const me = await apiMe(url, 'x'.repeat(43));
    t.equal(me.status, 401);
    t.same(Object.keys(me.body), ['error', 'error_description']);
    t.equal(me.body.error, 'invalid_token');
    t.match(
      challenge(me),
      /^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+", scope="profile", resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/api"$/,
    );
    const long = await apiMe(url, 'y'.repeat(5000));
    t.equal(long.status, 401, 'an absurdly long token is refused, not looked up');
  });

  t.test('the scheme name is case-insensitive', async (t) => {
    const { access_token } = await issue();
    const me = await apiMe(url, undefined, { headers: { authorization: `bearer ${access_token}` } });
    t.equal(me.status, 200);
  });

  t.test('a token without profile: 403 insufficient_scope', async (t) => {
    const { access_token, scope } = await issue('openid');
    t.equal(scope, 'openid');
    const me = await apiMe(url, access_token);
    t.equal(me.status, 403);
    t.equal(me.body.error, 'insufficient_scope');
    t.match(challenge(me), /error="insufficient_scope".*scope="profile"/);
  });

  t.test('a revoked token: 401', async (t) => {
    const { access_token } = await issue();
    t.equal((await apiMe(url, access_token)).status, 200);
    const revoked = await post(`${url}/oauth/revoke`, { token: access_token, token_type_hint: 'access_token' }, { basicAuth: auth });
    t.equal(revoked.status, 200);
    const me = await apiMe(url, access_token);
    t.equal(me.status, 401);
    t.equal(me.body.error, 'invalid_token');
  });

  t.test('an expired token: 401', async (t) => {
    const { access_token } = await issue();
    t.equal((await apiMe(url, access_token)).status, 200);
    // Time passes: the stored token's expiry (row and payload) moves into the past.
    const past = Math.floor(Date.now() / 1000) - 10;
    const updated = await app.db
      .updateTable('oidc_payloads')
      .set({ expires_at: new Date(past * 1000), payload: sql`jsonb_set(payload, '{exp}', to_jsonb(${past}::int))` })
      .where('model', '=', 'AccessToken')
      .where('key', '=', sha256(access_token))
      .executeTakeFirst();
    t.equal(Number(updated.numUpdatedRows), 1);
    const me = await apiMe(url, access_token);
    t.equal(me.status, 401);
    t.equal(me.body.error, 'invalid_token');
  });

  t.test('a token whose client was deleted: 401', async (t) => {
    const doomed = await createClient(app);
    const { body } = await passwordGrant(url, doomed, user.username, user.password);
    t.equal((await apiMe(url, body.access_token)).status, 200);
    t.ok(await app.clients.delete(doomed.clientId));
    const me = await apiMe(url, body.access_token);
    t.equal(me.status, 401);
    t.equal(me.body.error, 'invalid_token');
  });

  t.test('browser apps on other origins may call it with their token (CORS, no credentials)', async (t) => {
    const preflight = await fetch(`${url}/api/me`, {
      method: 'OPTIONS',
      headers: { origin: 'https://spa.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    t.equal(preflight.status, 204);
    t.equal(preflight.headers.get('access-control-allow-origin'), '*');
    t.match(preflight.headers.get('access-control-allow-headers'), /authorization/i);
    t.notOk(preflight.headers.get('access-control-allow-credentials'), 'never with cookies');

    const { access_token } = await issue();
    const ok = await apiMe(url, access_token, { headers: { origin: 'https://spa.example' } });
    t.equal(ok.status, 200);
    t.equal(ok.headers.get('access-control-allow-origin'), '*');
    const refused = await apiMe(url, 'unknown-token', { headers: { origin: 'https://spa.example' } });
    t.equal(refused.status, 401);
    t.equal(refused.headers.get('access-control-allow-origin'), '*', 'errors are readable by the app too');
    t.match(refused.headers.get('access-control-expose-headers'), /WWW-Authenticate/i);
  });

  t.test('a token whose grant is gone: 401', async (t) => {
    const { access_token } = await issue();
    const grantId = (await app.provider.AccessToken.find(access_token))!.grantId;
    await app.db.deleteFrom('oidc_payloads').where('model', '=', 'Grant').where('key', '=', sha256(grantId)).execute();
    const me = await apiMe(url, access_token);
    t.equal(me.status, 401);
  });

  // What the provider stored decides, as its own lookup would: each of these rows is changed in
  // place (the token itself is still there and unexpired), and each must be refused.
  const changeStored = async (model: 'AccessToken' | 'Grant', id: string, change: Record<string, unknown>) => {
    const updated = await app.db
      .updateTable('oidc_payloads')
      .set({ payload: sql`payload || ${JSON.stringify(change)}::jsonb` })
      .where('model', '=', model)
      .where('key', '=', sha256(id))
      .executeTakeFirst();
    t.equal(Number(updated.numUpdatedRows), 1, `${model} row changed`);
  };
  const refusedAfter = (name: string, change: (token: string, grantId: string) => Promise<void>, error: RegExp) =>
    t.test(name, async (t) => {
      const { access_token } = await issue();
      t.equal((await apiMe(url, access_token)).status, 200);
      await change(access_token, (await app.provider.AccessToken.find(access_token))!.grantId!);
      const me = await apiMe(url, access_token);
      t.equal(me.status, 401);
      t.equal(me.body.error, 'invalid_token');
      t.match(me.body.error_description, error);
    });

  refusedAfter(
    'a token bound to a session that has ended: 401',
    (token) => changeStored('AccessToken', token, { expiresWithSession: true, sessionUid: 'ended' }),
    /session/,
  );
  refusedAfter(
    'a sender-constrained (DPoP) token presented as a bearer token: 401',
    (token) => changeStored('AccessToken', token, { jkt: 'thumbprint' }),
    /sender-constrained/,
  );
  refusedAfter(
    'a token not yet valid (nbf in the future): 401',
    (token) => changeStored('AccessToken', token, { nbf: Math.floor(Date.now() / 1000) + 600 }),
    /not found/,
  );
  refusedAfter(
    'a token of another kind under this key: 401',
    (token) => changeStored('AccessToken', token, { kind: 'RefreshToken' }),
    /not found/,
  );
  refusedAfter(
    'a token whose grant has expired: 401',
    (_token, grantId) => changeStored('Grant', grantId, { exp: Math.floor(Date.now() / 1000) - 1 }),
    /grant/,
  );
  refusedAfter(
    'a token whose grant belongs to another account: 401',
    (_token, grantId) => changeStored('Grant', grantId, { accountId: '999999' }),
    /does not match/,
  );
});

/** A TCP proxy to PostgreSQL that the test can cut and restore: the database "goes away". */
async function cuttableProxy(target: URL) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((inbound) => {
        const outbound = connect(Number(target.port || 5432), target.hostname);
        for (const s of [inbound, outbound]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server!.close(() => resolve());
    });
  await open();
  return { port, open, cut };
}

t.test(
  'database unreachable: a valid token gets 503, not 401, and service resumes',
  { skip: !onPostgres && 'needs PostgreSQL over TCP' },
  async (t) => {
    const fresh = await freshDatabase(t);
    const real = new URL(fresh.databaseUrl!);
    const proxy = await cuttableProxy(real);
    t.teardown(() => proxy.cut().catch(() => {}));
    const viaProxy = new URL(real);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const { url, app } = await startServer(t, { fresh: { ...fresh, databaseUrl: viaProxy.toString() } });
    const user = await createUser(app);
    const client = await createClient(app);
    const { body } = await passwordGrant(url, client, user.username, user.password);
    t.equal((await apiMe(url, body.access_token)).status, 200);

    await proxy.cut();
    const started = Date.now();
    const down = await apiMe(url, body.access_token);
    t.equal(down.status, 503);
    t.equal(down.body.error, 'temporarily_unavailable');
    t.ok(Date.now() - started < 5000, 'fails fast');

    await proxy.open();
    const back = await apiMe(url, body.access_token);
    t.equal(back.status, 200, 'works again once the database is back');
  },
);
