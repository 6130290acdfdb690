import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { sha256 } from '../src/crypto/hash.js';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { basic, json, type Json } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';

function register(server: TestServer, token: string | undefined, body: unknown): Promise<Response> {
  return fetch(`${server.url}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

function manage(uri: string, token: string, method: 'GET' | 'PUT' | 'DELETE', body?: unknown): Promise<Response> {
  return fetch(uri, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

function clientCredentials(server: TestServer, clientId: string, clientSecret: string): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'profile' }),
  });
}

async function storedClientPayload(server: TestServer, clientId: string) {
  const row = await server.app.db
    .selectFrom('oidc_payloads')
    .select('payload')
    .where('model', '=', 'Client')
    .where('key', '=', sha256(clientId))
    .executeTakeFirst();
  return row?.payload;
}

const MACHINE = {
  client_name: 'machine',
  grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'profile',
};

t.test('registration needs a valid initial access token', async (t) => {
  const server = await startServer(t);

  const without = await register(server, undefined, MACHINE);
  t.equal(without.status, 401, 'no token: 401');
  t.equal((await json(without)).error, 'invalid_token');
  t.match(without.headers.get('www-authenticate'), /^Bearer /, 'with a Bearer challenge');

  const forged = await register(server, 'a'.repeat(43), MACHINE);
  t.equal(forged.status, 401, 'an unknown token: 401');
  t.equal((await json(forged)).error, 'invalid_token');

  const short = await createInitialAccessToken(server.app.provider, 1);
  await sleep(2100);
  const expired = await register(server, short.token, MACHINE);
  t.equal(expired.status, 401, 'an expired token: 401');
  t.equal((await json(expired)).error, 'invalid_token');

  const stillClients = await server.app.db.selectFrom('oidc_payloads').select('key').where('model', '=', 'Client').execute();
  t.same(stillClients, [], 'no client was registered by the refused requests');
});

t.test('a valid token registers a working client; its secret is stored only as a hash', async (t) => {
  const server = await startServer(t);
  const { token, expiresAt } = await createInitialAccessToken(server.app.provider, 3600);
  t.ok(Math.abs(expiresAt - (Date.now() / 1000 + 3600)) < 5, 'expires in an hour');

  const res = await register(server, token, MACHINE);
  t.equal(res.status, 201);
  const client: Json = await res.json();
  t.ok(client.client_id.length >= 24, 'client_id of at least 24 characters');
  t.ok(client.client_secret.length >= 48, 'client_secret of at least 48 characters');
  t.equal(client.client_secret_expires_at, 0);
  t.same(client.grant_types, ['client_credentials']);
  t.same(client.response_types, [], 'no response types for a client without the code or implicit grant');
  t.equal(client.registration_client_uri, `${server.url}/oauth/register/${client.client_id}`);
  t.type(client.registration_access_token, 'string');

  const issued = await clientCredentials(server, client.client_id, client.client_secret);
  t.equal(issued.status, 200, 'the registered client gets a token with its secret');
  t.type((await json(issued)).access_token, 'string');
  const wrong = await clientCredentials(server, client.client_id, `${client.client_secret}x`);
  t.equal(wrong.status, 401, 'and not with another secret');

  const stored = await storedClientPayload(server, client.client_id);
  t.equal(stored?.client_secret, `sha256:${sha256(client.client_secret)}`, 'stored as its SHA-256');
  t.notMatch(JSON.stringify(stored), client.client_secret, 'the secret itself is nowhere in the stored client');

  const second = await register(server, token, { ...MACHINE, client_name: 'second' });
  t.equal(second.status, 201, 'the token registers more than one client until it expires');
  t.not((await json(second)).client_id, client.client_id);
});

t.test('registration follows the same rules as the web form and the command line', async (t) => {
  const server = await startServer(t);
  const { token } = await createInitialAccessToken(server.app.provider, 3600);
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['http on a public host', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri', /loopback/],
    ['a fragment', { redirect_uris: ['https://app.example/cb#frag'] }, 'invalid_redirect_uri', /fragment/],
    ['a relative redirect URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri', /absolute/],
    [
      'the implicit grant without a token response type',
      {
        redirect_uris: ['https://app.example/cb'],
        grant_types: ['authorization_code', 'implicit'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      'invalid_client_metadata',
      /implicit grant and a "token"/,
    ],
    [
      'the implicit grant for a confidential client',
      {
        redirect_uris: ['https://app.example/cb'],
        grant_types: ['implicit'],
        response_types: ['token'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      'invalid_client_metadata',
      /public clients/,
    ],
    [
      'an auth method the form does not offer',
      { ...MACHINE, token_endpoint_auth_method: 'client_secret_jwt' },
      'invalid_client_metadata',
      /auth method/,
    ],
    [
      'a public client with client_credentials',
      { ...MACHINE, token_endpoint_auth_method: 'none' },
      'invalid_client_metadata',
      /public client/,
    ],
    ['an unknown grant type', { ...MACHINE, grant_types: ['urn:example:unknown'] }, 'invalid_client_metadata', /Unknown grant type/],
    ['redirect_uris that are not strings', { redirect_uris: [42] }, 'invalid_redirect_uri', /array of strings/],
    ['a client_name that is not a string', { ...MACHINE, client_name: 7 }, 'invalid_client_metadata', /client_name must be a string/],
  ];
  for (const [name, body, error, description] of cases) {
    const res = await register(server, token, { client_name: name, ...body });
    const answer = await json(res);
    t.equal(res.status, 400, `${name}: 400`);
    t.equal(answer.error, error, `${name}: ${error}`);
    t.match(answer.error_description, description, `${name}: says why`);
  }
  const clients = await server.app.db.selectFrom('oidc_payloads').select('key').where('model', '=', 'Client').execute();
  t.same(clients, [], 'none of them was registered');

  const loopback = await register(server, token, {
    client_name: 'native',
    redirect_uris: ['http://127.0.0.1:8765/cb'],
    token_endpoint_auth_method: 'none',
  });
  t.equal(loopback.status, 201, 'http on a loopback host is fine');
  const native = await json(loopback);
  t.same(native.grant_types, ['authorization_code'], 'RFC 7591 defaults: the authorization code grant');
  t.same(native.response_types, ['code'], 'with the code response type');
  t.equal(native.client_secret, undefined, 'a public client gets no secret');
});

t.test('RFC 7592: read, update and delete with the registration access token', async (t) => {
  const server = await startServer(t);
  const { token } = await createInitialAccessToken(server.app.provider, 3600);
  const created: Json = await json(
    register(server, token, {
      client_name: 'web app',
      redirect_uris: ['https://app.example/cb'],
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
      scope: 'openid profile',
    }),
  );
  const uri: string = created.registration_client_uri;
  const secret: string = created.client_secret;

  const read = await manage(uri, created.registration_access_token, 'GET');
  t.equal(read.status, 200);
  const readText = await read.text();
  const current = JSON.parse(readText);
  t.equal(current.client_id, created.client_id);
  t.equal(current.client_name, 'web app');
  t.equal(current.client_secret, undefined, 'the stored secret is not shown');
  t.notMatch(readText, /sha256:/, 'nor its hash');

  const refused = await manage(uri, 'not-the-token', 'GET');
  t.equal(refused.status, 401, 'another token cannot read it');
  t.equal((await json(refused)).error, 'invalid_token');

  const update = {
    client_id: created.client_id,
    client_secret: secret,
    client_name: 'renamed app',
    redirect_uris: ['https://app.example/cb2'],
    grant_types: ['authorization_code', 'client_credentials'],
    response_types: ['code'],
    scope: 'openid profile',
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const updated = await manage(uri, created.registration_access_token, 'PUT', update);
  const updatedText = await updated.text();
  t.equal(updated.status, 200, 'an update presenting the current secret is accepted');
  const after = JSON.parse(updatedText);
  t.equal(after.client_name, 'renamed app');
  t.same(after.redirect_uris, ['https://app.example/cb2']);
  t.notMatch(updatedText, /sha256:/, 'the update answer does not carry the stored hash');
  t.not(after.registration_access_token, created.registration_access_token, 'the registration access token is rotated');
  t.equal((await manage(uri, created.registration_access_token, 'GET')).status, 401, 'the previous one no longer works');
  const rat: string = after.registration_access_token;

  const wrongSecret = await manage(uri, rat, 'PUT', { ...update, client_secret: 'not-the-secret' });
  t.equal(wrongSecret.status, 400, 'a wrong secret in an update is refused');
  t.equal((await json(wrongSecret)).error, 'invalid_request');
  const hashAsSecret = await manage(uri, rat, 'PUT', { ...update, client_secret: `sha256:${sha256(secret)}` });
  t.equal(hashAsSecret.status, 400, 'the stored hash is not accepted as the secret');

  const breaking = await manage(uri, rat, 'PUT', { ...update, client_secret: undefined, redirect_uris: ['http://app.example/cb'] });
  t.equal(breaking.status, 400, 'an update is held to the same rules');
  t.equal((await json(breaking)).error, 'invalid_redirect_uri');
  const unchanged = await json(manage(uri, rat, 'GET'));
  t.same(unchanged.redirect_uris, ['https://app.example/cb2'], 'and a refused update changes nothing');

  t.equal((await clientCredentials(server, created.client_id, secret)).status, 200, 'the secret survives updates');

  const deleted = await manage(uri, rat, 'DELETE');
  t.equal(deleted.status, 204);
  t.equal((await clientCredentials(server, created.client_id, secret)).status, 401, 'a deleted client cannot get tokens');
  t.equal((await manage(uri, rat, 'GET')).status, 401, 'nor be read');
  t.equal(await storedClientPayload(server, created.client_id), undefined, 'it is gone from the database');
});
