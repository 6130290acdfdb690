import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { ClientInput } from '../src/oidc/client-metadata.js';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { refused, runCli } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { json, type Json } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * What a penetration test found at registration: a client's URLs that made the server connect
 * out (sector_identifier_uri; jwks_uri is checked too), and implicit clients on http redirect URIs.
 */

t.setTimeout(300_000);

/** A listener on 127.0.0.1 that counts every TCP connection (http or https alike) and drops it. */
async function connectionRecorder(t: Test): Promise<{ base: (scheme: string) => string; connections: () => number }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { base: (scheme) => `${scheme}://127.0.0.1:${port}`, connections: () => count };
}

function register(server: TestServer, token: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

function update(uri: string, token: string, body: unknown): Promise<Response> {
  return fetch(uri, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const WEB = {
  client_name: 'web app',
  redirect_uris: ['https://app.example/cb'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  scope: 'openid profile',
  token_endpoint_auth_method: 'client_secret_basic',
};

const SPA = {
  client_name: 'spa',
  redirect_uris: ['https://spa.example/cb'],
  grant_types: ['implicit'],
  response_types: ['token'],
  scope: 'openid profile',
  token_endpoint_auth_method: 'none',
};

t.test('no client metadata makes the server connect anywhere', async (t) => {
  const server = await startServer(t);
  const { token } = await createInitialAccessToken(server.app.provider, 3600);

  t.test('sector_identifier_uri at RFC 7591 registration is refused, never fetched', async (t) => {
    const listener = await connectionRecorder(t);
    for (const path of ['/sector', '/redirects.json']) {
      const res = await register(server, token, { ...WEB, sector_identifier_uri: `${listener.base('https')}${path}` });
      const body = await json(res);
      t.equal(res.status, 400, `${path}: 400`);
      t.equal(body.error, 'invalid_client_metadata', `${path}: invalid_client_metadata`);
      t.match(body.error_description, /sector_identifier_uri is not accepted/, `${path}: says which field and why`);
    }
    t.equal(listener.connections(), 0, 'no connection reached the listener');
  });

  t.test('sector_identifier_uri in an RFC 7592 update (registration access token only) is refused', async (t) => {
    const listener = await connectionRecorder(t);
    const created: Json = await json(register(server, token, WEB));
    t.type(created.registration_access_token, 'string', 'a client to update');
    const res = await update(created.registration_client_uri, created.registration_access_token, {
      ...WEB,
      client_id: created.client_id,
      sector_identifier_uri: `${listener.base('https')}/sector`,
    });
    const body = await json(res);
    t.equal(res.status, 400);
    t.equal(body.error, 'invalid_client_metadata');
    t.match(body.error_description, /sector_identifier_uri is not accepted/);
    t.equal(listener.connections(), 0, 'no connection reached the listener');
  });

  t.test('jwks_uri is stored, not fetched: the only fetch is private_key_jwt, which the rules refuse', async (t) => {
    const listener = await connectionRecorder(t);
    for (const scheme of ['http', 'https']) {
      const res = await register(server, token, { ...WEB, jwks_uri: `${listener.base(scheme)}/jwks` });
      t.equal(res.status, 201, `${scheme} jwks_uri with client_secret_basic: registered`);
      const created: Json = await res.json();
      const assertion = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: created.client_id })).toString('base64url')}.sig`;
      const tokenRes = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      t.equal(tokenRes.status, 401, `${scheme}: a client_assertion for it is refused`);
      t.equal((await json(tokenRes)).error, 'invalid_client');
    }
    const keyJwt = await register(server, token, {
      ...WEB,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: `${listener.base('https')}/jwks`,
    });
    t.equal(keyJwt.status, 400, 'private_key_jwt (the method that would fetch jwks_uri) is refused');
    t.equal((await json(keyJwt)).error, 'invalid_client_metadata');
    t.equal(listener.connections(), 0, 'no connection reached the listener');
  });

  t.test('the form and the command line build clients from fixed fields only', async (t) => {
    const listener = await connectionRecorder(t);
    const extra = { sector_identifier_uri: `${listener.base('https')}/sector` } as unknown as Partial<ClientInput>;
    const issued = await createClient(server.app, extra);
    t.notOk('sector_identifier_uri' in issued.metadata, 'an extra field does not reach the stored client');
    t.equal(listener.connections(), 0, 'no connection reached the listener');
  });
});

const IMPLICIT_ON_HTTP = /implicit grant sends tokens only to https redirect URIs/;

t.test('implicit clients get https redirect URIs only, whatever the application_type', async (t) => {
  const server = await startServer(t);
  const { token } = await createInitialAccessToken(server.app.provider, 3600);

  t.test('RFC 7591 registration', async (t) => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['native, http://localhost', { application_type: 'native', redirect_uris: ['http://localhost:8123/cb'] }],
      ['native, http://127.0.0.1, another port', { application_type: 'native', redirect_uris: ['http://127.0.0.1:54321/cb'] }],
      ['native, http://[::1]', { application_type: 'native', redirect_uris: ['http://[::1]:8123/cb'] }],
      ['native, a private scheme', { application_type: 'native', redirect_uris: ['com.example.app:/cb'] }],
      ['native, id_token only', { application_type: 'native', response_types: ['id_token'], redirect_uris: ['http://127.0.0.1/cb'] }],
      [
        'native, hybrid',
        {
          application_type: 'native',
          grant_types: ['authorization_code', 'implicit'],
          response_types: ['code id_token'],
          redirect_uris: ['http://localhost/cb'],
        },
      ],
      ['web, http://localhost', { redirect_uris: ['http://localhost:8123/cb'] }],
      ['one https and one http', { application_type: 'native', redirect_uris: ['https://spa.example/cb', 'http://127.0.0.1/cb'] }],
    ];
    for (const [name, overrides] of cases) {
      const res = await register(server, token, { ...SPA, client_name: name, ...overrides });
      const body = await json(res);
      t.equal(res.status, 400, `${name}: 400`);
      t.equal(body.error, 'invalid_redirect_uri', `${name}: invalid_redirect_uri`);
      t.match(body.error_description, IMPLICIT_ON_HTTP, `${name}: says why`);
    }
    const clients = await server.app.clients.listAll();
    t.same(
      clients.map((c) => c.client_name),
      [],
      'none was registered',
    );
    const https = await register(server, token, { ...SPA, application_type: 'native', redirect_uris: ['https://spa.example/cb'] });
    t.equal(https.status, 201, 'a native implicit client on https is fine');
    const code = await register(server, token, {
      ...WEB,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1:8123/cb'],
      token_endpoint_auth_method: 'none',
    });
    t.equal(code.status, 201, 'http loopback stays fine for a native code client');
  });

  t.test('RFC 7592 update', async (t) => {
    const created: Json = await json(register(server, token, SPA));
    t.type(created.registration_access_token, 'string', 'an implicit client to update');
    const res = await update(created.registration_client_uri, created.registration_access_token, {
      ...SPA,
      client_id: created.client_id,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1:8123/cb'],
    });
    const body = await json(res);
    t.equal(res.status, 400);
    t.equal(body.error, 'invalid_redirect_uri');
    t.match(body.error_description, IMPLICIT_ON_HTTP);
    const stored = await server.app.clients.get(created.client_id);
    t.same(stored?.metadata.redirect_uris, ['https://spa.example/cb'], 'the refused update changed nothing');
  });

  t.test('the console form', async (t) => {
    const user = await createUser(server.app);
    const browser = new BrowserSession(server.url);
    const home = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    const page = await browser.submit(home, 'Create client', {
      'Client name': 'Implicit on loopback',
      'Client URI': '',
      'Redirect URIs': 'http://localhost:8123/callback',
      authorization_code: false,
      implicit: true,
      password: false,
      client_credentials: false,
      refresh_token: false,
      'Response types': 'token',
      Scope: 'profile',
      'Token endpoint auth method': 'none',
    });
    t.equal(page.status, 422);
    t.match(mainText(page), IMPLICIT_ON_HTTP);
    t.equal((await server.app.clients.listByOwner(user.id)).length, 0, 'nothing was created');
  });

  t.test('the command line', async (t) => {
    const fresh = await freshDatabase(t);
    const args = ['client', 'create', '--name', 'x', '--grant-type', 'implicit', '--response-type', 'token', '--auth-method', 'none'];
    const result = await runCli(fresh, [...args, '--redirect-uri', 'http://127.0.0.1:8123/cb', '--scope', 'profile']);
    t.match(refused(t, result, 1, 'implicit on http loopback'), IMPLICIT_ON_HTTP);
  });
});
