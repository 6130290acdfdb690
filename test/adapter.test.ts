import t from 'tap';
import { sql } from 'kysely';
import type { AdapterPayload } from 'oidc-provider';
import { migrate } from '../src/db/migrate.js';
import { purgeExpired } from '../src/db/purge.js';
import { KyselyAdapter } from '../src/oidc/adapter/kysely-adapter.js';
import { freshDatabase } from './helpers/database.js';
import { basic, json } from './helpers/http.js';
import { startServer } from './helpers/server.js';
import { createClient } from './helpers/fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openMigrated(t: Parameters<typeof freshDatabase>[0]) {
  const fresh = await freshDatabase(t);
  const database = await fresh.open();
  t.teardown(() => database.close());
  await migrate(database.db);
  return database.db;
}

/** Every text value stored in oidc_payloads, for "does the table contain X" checks. */
async function tableText(db: Awaited<ReturnType<typeof openMigrated>>): Promise<string> {
  const rows = await sql<{ row: string }>`select row_to_json(p)::text as row from oidc_payloads p`.execute(db);
  return rows.rows.map((r) => r.row).join('\n');
}

t.test('the adapter contract', async (t) => {
  const db = await openMigrated(t);
  const tokens = new KyselyAdapter('AccessToken', db);
  const refresh = new KyselyAdapter('RefreshToken', db);
  const payload = (jti: string, grantId: string) =>
    ({ jti, grantId, kind: 'AccessToken', accountId: '1', clientId: 'c', scope: 'profile', iat: 1, exp: 2 }) as AdapterPayload;

  t.test('upsert and find give the payload back with its jti', async (t) => {
    await tokens.upsert('token-one', payload('token-one', 'grant-a'), 60);
    t.match(await tokens.find('token-one'), { jti: 'token-one', grantId: 'grant-a', scope: 'profile' });
    t.notOk((await tokens.find('token-one'))?.consumed, 'not consumed');
    t.equal(await tokens.find('token-unknown'), undefined);
    t.equal(await refresh.find('token-one'), undefined, 'models do not see each other');
  });

  t.test('upsert replaces', async (t) => {
    await tokens.upsert('token-one', { ...payload('token-one', 'grant-a'), scope: 'openid' }, 60);
    t.equal((await tokens.find('token-one'))?.scope, 'openid');
  });

  t.test('consume marks it consumed', async (t) => {
    await tokens.consume('token-one');
    const found = await tokens.find('token-one');
    t.type(found?.consumed, 'number');
    t.ok(Math.abs(Number(found?.consumed) - Date.now() / 1000) < 60, 'consumed is an epoch time of now');
  });

  t.test('expiry is honoured on read, and purge deletes expired rows', async (t) => {
    await tokens.upsert('token-short', payload('token-short', 'grant-a'), 1);
    t.ok(await tokens.find('token-short'));
    await sleep(1100);
    t.equal(await tokens.find('token-short'), undefined, 'expired rows are not found');
    t.ok((await purgeExpired(db)) >= 1, 'purge removed it');
    const left = await db.selectFrom('oidc_payloads').select('key').where('model', '=', 'AccessToken').execute();
    t.equal(left.length, 1, 'only the live token is left');
  });

  t.test('rows without expiry never expire', async (t) => {
    const clients = new KyselyAdapter('Client', db);
    await clients.upsert('client-x', { client_id: 'client-x', client_secret: 'plain-secret-value' } as AdapterPayload, undefined);
    const found = await clients.find('client-x');
    t.equal(found?.client_id, 'client-x');
    t.notOk(found?.jti, 'clients get no jti');
    t.match(found?.client_secret, /^sha256:[0-9a-f]{64}$/, 'client secrets are stored hashed');
  });

  t.test('destroy', async (t) => {
    await tokens.upsert('token-two', payload('token-two', 'grant-b'), 60);
    await tokens.destroy('token-two');
    t.equal(await tokens.find('token-two'), undefined);
  });

  t.test('revokeByGrantId touches only that grant of that model', async (t) => {
    await tokens.upsert('t-a1', payload('t-a1', 'grant-x'), 60);
    await tokens.upsert('t-a2', payload('t-a2', 'grant-x'), 60);
    await tokens.upsert('t-b1', payload('t-b1', 'grant-y'), 60);
    await refresh.upsert('r-a1', { ...payload('r-a1', 'grant-x'), kind: 'RefreshToken' }, 60);
    await tokens.revokeByGrantId('grant-x');
    t.equal(await tokens.find('t-a1'), undefined);
    t.equal(await tokens.find('t-a2'), undefined);
    t.ok(await tokens.find('t-b1'), 'another grant is untouched');
    t.ok(await refresh.find('r-a1'), 'another model of the same grant is untouched');
  });

  t.test('findByUid finds a session by its uid, without its id', async (t) => {
    const sessions = new KyselyAdapter('Session', db);
    await sessions.upsert(
      'session-cookie-value',
      { jti: 'session-cookie-value', uid: 'session-uid', accountId: '7', kind: 'Session' } as AdapterPayload,
      60,
    );
    t.match(await sessions.findByUid('session-uid'), { uid: 'session-uid', accountId: '7' });
    t.notOk((await sessions.findByUid('session-uid'))?.jti, 'the session id is not recoverable from the table');
    t.equal((await sessions.find('session-cookie-value'))?.jti, 'session-cookie-value');
    t.equal(await sessions.findByUid('other'), undefined);
  });

  t.test('findByUserCode finds a device code with its id, also after it is saved again', async (t) => {
    const codes = new KyselyAdapter('DeviceCode', db);
    await codes.upsert('device-code-id', { jti: 'device-code-id', userCode: 'BCDFGHJK', kind: 'DeviceCode' } as AdapterPayload, 60);
    t.match(await codes.findByUserCode('BCDFGHJK'), { jti: 'device-code-id', userCode: 'BCDFGHJK' });
    await codes.upsert('device-code-id', { jti: 'device-code-id', kind: 'DeviceCode', accountId: '3' } as AdapterPayload, 60);
    t.match(await codes.findByUserCode('BCDFGHJK'), { jti: 'device-code-id', userCode: 'BCDFGHJK', accountId: '3' });
    t.equal(await codes.findByUserCode('XXXXXXXX'), undefined);
  });

  t.test('the table holds no id, uid or user code in clear', async (t) => {
    const text = await tableText(db);
    for (const secret of ['token-one', 't-b1', 'session-cookie-value', 'device-code-id', 'BCDFGHJK', 'plain-secret-value']) {
      t.notOk(text.includes(secret), `no "${secret}" in any column`);
    }
  });
});

t.test('an issued token appears in no column of the table', async (t) => {
  const server = await startServer(t);
  const client = await createClient(server.app, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=profile',
  });
  t.equal(res.status, 200);
  const { access_token: token } = await json(res);
  t.type(token, 'string');
  const text = await tableText(server.app.db);
  t.notOk(text.includes(token), 'the access token string is not stored');
  t.notOk(text.includes(client.clientSecret!), 'the client secret is not stored');
  const introspected = await json(
    fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    }),
  );
  t.equal(introspected.active, true, 'and yet the token is found by its value');
});
