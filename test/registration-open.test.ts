import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { freshDatabase } from './helpers/database.js';
import { createUser } from './helpers/fixtures.js';
import { json, type Json } from './helpers/http.js';
import { pkce } from './helpers/latchkey-pages.js';
import { logLines, spawnServer } from './helpers/process.js';
import { startServer, type TestServer } from './helpers/server.js';

/** REGISTRATION=token | open | off at POST /oauth/register, in discovery, and on the consent page. */

function register(server: Pick<TestServer, 'url'>, body: unknown, token?: string): Promise<Response> {
  return fetch(`${server.url}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

/** What the MCP SDK's clients register: a public code-flow client redirected to the loopback. */
const MCP_CLIENT = {
  client_name: 'MCP <Inspector>',
  redirect_uris: ['http://127.0.0.1:33418/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
  scope: 'openid profile',
};

async function discoveryOf(server: TestServer): Promise<Json[]> {
  const paths = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];
  return Promise.all(paths.map(async (path) => json(fetch(`${server.url}${path}`))));
}

t.test('REGISTRATION=open', async (t) => {
  const server = await startServer(t, { env: { REGISTRATION: 'open', REGISTRATION_RATE_LIMIT: '1000' } });

  t.test('discovery names the registration endpoint at both well-known paths', async (t) => {
    for (const doc of await discoveryOf(server)) {
      t.equal(doc.issuer, server.url);
      t.equal(doc.registration_endpoint, `${server.url}/oauth/register`);
      t.ok(doc.code_challenge_methods_supported.includes('S256'));
    }
  });

  t.test('anyone registers a code-flow client; it is marked self-registered and can manage itself', async (t) => {
    const res = await register(server, MCP_CLIENT);
    t.equal(res.status, 201);
    const client: Json = await res.json();
    t.equal(client.latchkey_self_registered, true, 'marked self-registered');
    t.same(client.redirect_uris, MCP_CLIENT.redirect_uris);
    t.notOk(client.client_secret, 'a public client has no secret');
    t.ok(client.registration_access_token && client.registration_client_uri, 'RFC 7592 management');

    const read = await fetch(client.registration_client_uri, { headers: { authorization: `Bearer ${client.registration_access_token}` } });
    t.equal(read.status, 200);
    t.equal((await json(read)).latchkey_self_registered, true);

    const widen = await fetch(client.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${client.registration_access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...MCP_CLIENT, client_id: client.client_id, grant_types: ['authorization_code', 'implicit'] }),
    });
    t.equal(widen.status, 400, 'an update is held to the open rules too');
    t.equal((await json(widen)).error, 'invalid_client_metadata');

    // Destroyed once the response has left: wait for that clean-up (a few milliseconds) rather than race it.
    const storedTokens = () => server.app.db.selectFrom('oidc_payloads').select('key').where('model', '=', 'InitialAccessToken').execute();
    let iats = await storedTokens();
    for (let i = 0; i < 50 && iats.length > 0; i++) {
      await sleep(100);
      iats = await storedTokens();
    }
    t.same(iats, [], 'the initial access token made for the anonymous registration is spent');
  });

  t.test('a client in a browser may register from its own origin (CORS)', async (t) => {
    const preflight = await fetch(`${server.url}/oauth/register`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    t.equal(preflight.status, 204);
    t.equal(preflight.headers.get('access-control-allow-origin'), '*');
    t.match(preflight.headers.get('access-control-allow-headers'), /Content-Type/i);
    t.equal(preflight.headers.get('access-control-allow-credentials'), null, 'never with credentials');
    const res = await fetch(`${server.url}/oauth/register`, {
      method: 'POST',
      headers: { origin: 'http://localhost:6274', 'content-type': 'application/json' },
      body: JSON.stringify({ ...MCP_CLIENT, redirect_uris: ['http://localhost:6274/oauth/callback'] }),
    });
    t.equal(res.status, 201);
    t.equal(res.headers.get('access-control-allow-origin'), '*');
    const { client_id } = (await res.json()) as Json;
    const tokenCall = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { origin: 'http://localhost:6274', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'not-a-code',
        client_id,
        redirect_uri: 'http://localhost:6274/oauth/callback',
        code_verifier: 'v'.repeat(43),
      }),
    });
    t.equal(tokenCall.status, 400);
    t.equal(
      tokenCall.headers.get('access-control-allow-origin'),
      'http://localhost:6274',
      'the token endpoint answers its redirect origin',
    );
    const refused = await fetch(`${server.url}/oauth/register`, {
      method: 'POST',
      headers: { origin: 'http://localhost:6274', 'content-type': 'application/json' },
      body: JSON.stringify({ ...MCP_CLIENT, grant_types: ['client_credentials'] }),
    });
    t.equal(refused.status, 400);
    t.equal(refused.headers.get('access-control-allow-origin'), '*', 'the browser may read why it was refused');
  });

  t.test('the loopback on any port, [::1] and localhost, https; application_type native honoured', async (t) => {
    for (const uri of ['http://localhost:8080/cb', 'http://[::1]:9999/cb', 'https://app.example/cb']) {
      const res = await register(server, { ...MCP_CLIENT, redirect_uris: [uri] });
      t.equal(res.status, 201, uri);
    }
    const native = await register(server, { ...MCP_CLIENT, application_type: 'native' });
    t.equal(native.status, 201);
    t.equal((await json(native)).application_type, 'native');
    const nativeHttpsLoopback = await register(server, {
      ...MCP_CLIENT,
      application_type: 'native',
      redirect_uris: ['https://127.0.0.1/cb'],
    });
    t.equal(nativeHttpsLoopback.status, 400, "the provider's native rules still apply");
  });

  t.test('anything but a code-flow client with https or loopback redirects is refused', async (t) => {
    const refused: Array<[string, unknown, string]> = [
      [
        'client_credentials',
        { client_name: 'm', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'profile' },
        'invalid_client_metadata',
      ],
      [
        'password',
        { ...MCP_CLIENT, grant_types: ['authorization_code', 'password'], token_endpoint_auth_method: 'client_secret_basic' },
        'invalid_client_metadata',
      ],
      [
        'implicit',
        {
          ...MCP_CLIENT,
          grant_types: ['authorization_code', 'implicit'],
          response_types: ['code', 'token'],
          redirect_uris: ['https://a.example/cb'],
        },
        'invalid_client_metadata',
      ],
      [
        'device code',
        { ...MCP_CLIENT, grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'] },
        'invalid_client_metadata',
      ],
      ['http elsewhere', { ...MCP_CLIENT, redirect_uris: ['http://evil.example/cb'] }, 'invalid_redirect_uri'],
      ['a custom scheme', { ...MCP_CLIENT, redirect_uris: ['com.example.app:/cb'], application_type: 'native' }, 'invalid_redirect_uri'],
      [
        'a post-logout redirect elsewhere',
        { ...MCP_CLIENT, post_logout_redirect_uris: ['com.example.app:/out'] },
        'invalid_client_metadata',
      ],
      ['jwks_uri', { ...MCP_CLIENT, jwks_uri: 'https://keys.example/jwks' }, 'invalid_client_metadata'],
      ['an unknown scope', { ...MCP_CLIENT, scope: 'mcp:tools' }, 'invalid_client_metadata'],
    ];
    for (const [what, body, error] of refused) {
      const res = await register(server, body);
      t.equal(res.status, 400, what);
      t.equal((await json(res)).error, error, what);
    }
    const claimed = await register(server, { ...MCP_CLIENT, latchkey_self_registered: false });
    t.equal((await json(claimed)).latchkey_self_registered, true, "the marker is the server's, whatever was sent");
  });

  t.test('with an initial access token the client is not self-registered, and token rules apply', async (t) => {
    const { token } = await createInitialAccessToken(server.app.provider, 600);
    const res = await register(server, { ...MCP_CLIENT, latchkey_self_registered: true }, token);
    t.equal(res.status, 201);
    t.equal((await json(res)).latchkey_self_registered, undefined);
    const machine = await register(
      server,
      { client_name: 'm', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'profile' },
      (await createInitialAccessToken(server.app.provider, 600)).token,
    );
    t.equal(machine.status, 201, 'an administrator-issued token still registers any client');
    const forged = await register(server, MCP_CLIENT, 'a'.repeat(43));
    t.equal(forged.status, 401, 'a token that is presented must be valid');
  });

  t.test('a self-registered client must use PKCE, even with a secret', async (t) => {
    const confidential: Json = await json(register(server, { ...MCP_CLIENT, token_endpoint_auth_method: 'client_secret_basic' }));
    t.ok(confidential.client_secret);
    const params = {
      response_type: 'code',
      client_id: confidential.client_id,
      redirect_uri: MCP_CLIENT.redirect_uris[0]!,
      scope: 'openid',
    };
    const without = await fetch(`${server.url}/oauth/authorize?${new URLSearchParams(params)}`, { redirect: 'manual' });
    const location = new URL(without.headers.get('location') ?? '', server.url);
    t.equal(location.searchParams.get('error'), 'invalid_request');
    t.match(location.searchParams.get('error_description'), /requires PKCE/);
    const { challenge } = pkce();
    const withPkce = await fetch(
      `${server.url}/oauth/authorize?${new URLSearchParams({ ...params, code_challenge: challenge, code_challenge_method: 'S256' })}`,
      { redirect: 'manual' },
    );
    t.match(withPkce.headers.get('location'), /^\/interaction\//, 'with PKCE: on to the login page');
  });

  /** A new person signs in to an authorization (with PKCE) of this client: the consent page it reaches. */
  async function consentPage(clientId: string, redirectUri: string, scope: string) {
    const user = await createUser(server.app);
    const browser = new BrowserSession(server.url);
    const { challenge } = pkce();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const login = await browser.get(`/oauth/authorize?${query}`);
    return browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
  }

  t.test('the consent page names the redirect host and says the client registered itself, escaped', async (t) => {
    const client: Json = await json(register(server, { ...MCP_CLIENT, redirect_uris: ['http://127.0.0.1:47123/callback'] }));
    const consent = await consentPage(client.client_id, 'http://127.0.0.1:47123/callback', 'openid profile');
    const text = mainText(consent);
    t.match(text, 'you will be sent to 127.0.0.1:47123');
    t.match(text, 'This application registered itself: Latchkey has not verified it');
    t.match(consent.html, /<strong class="redirect-host">127\.0\.0\.1:47123<\/strong>/);
    t.match(consent.html, 'MCP &lt;Inspector&gt;', 'the name it gave itself is escaped');
    t.notMatch(consent.html, '<Inspector>');
  });

  t.test('a client registered by the administrator gets no such warning', async (t) => {
    const { token } = await createInitialAccessToken(server.app.provider, 600);
    const client: Json = await json(register(server, MCP_CLIENT, token));
    const consent = await consentPage(client.client_id, MCP_CLIENT.redirect_uris[0]!, 'openid');
    t.match(mainText(consent), 'Allow MCP <Inspector> to use your account?');
    t.notMatch(mainText(consent), 'registered itself');
  });
});

t.test('REGISTRATION=open counts anonymous registrations per IP', async (t) => {
  const server = await startServer(t, { env: { REGISTRATION: 'open', REGISTRATION_RATE_LIMIT: '2' } });
  t.equal((await register(server, MCP_CLIENT)).status, 201);
  t.equal((await register(server, { ...MCP_CLIENT, grant_types: ['client_credentials'] })).status, 400, 'a refused one counts too');
  const third = await register(server, MCP_CLIENT);
  t.equal(third.status, 429);
  t.equal((await json(third)).error, 'slow_down');
  t.ok(Number(third.headers.get('retry-after')) > 0, 'with Retry-After');
  const { token } = await createInitialAccessToken(server.app.provider, 600);
  t.equal((await register(server, MCP_CLIENT, token)).status, 201, 'a registration with a token is not counted');
});

t.test('REGISTRATION=token (the default) refuses anonymous registration', async (t) => {
  const server = await startServer(t);
  const res = await register(server, MCP_CLIENT);
  t.equal(res.status, 401);
  t.equal((await json(res)).error, 'invalid_token');
  t.equal(res.headers.get('access-control-allow-origin'), null, 'no CORS for registration under token');
  for (const doc of await discoveryOf(server)) t.equal(doc.registration_endpoint, `${server.url}/oauth/register`);
  const { token } = await createInitialAccessToken(server.app.provider, 600);
  const withToken = await register(server, MCP_CLIENT, token);
  t.equal(withToken.status, 201);
  t.equal((await json(withToken)).latchkey_self_registered, undefined, 'not self-registered');
});

t.test('REGISTRATION=off refuses every registration; registered clients still manage themselves', async (t) => {
  const before = await startServer(t);
  const { token } = await createInitialAccessToken(before.app.provider, 600);
  const registered: Json = await json(register(before, MCP_CLIENT, token));

  const server = await startServer(t, { env: { REGISTRATION: 'off' }, fresh: before.fresh, database: before.app.database });
  const anonymous = await register(server, MCP_CLIENT);
  t.equal(anonymous.status, 403);
  const body: Json = await anonymous.json();
  t.equal(body.error, 'access_denied');
  t.match(body.error_description, /registration is turned off/);
  const withToken = await register(server, MCP_CLIENT, (await createInitialAccessToken(server.app.provider, 600)).token);
  t.equal(withToken.status, 403, 'an initial access token does not help');
  for (const doc of await discoveryOf(server)) {
    t.equal(doc.registration_endpoint, undefined, 'discovery names no registration endpoint');
    t.equal(doc.token_endpoint, `${server.url}/oauth/token`, 'the rest of discovery is there');
  }
  const read = await fetch(registered.registration_client_uri, {
    headers: { authorization: `Bearer ${registered.registration_access_token}` },
  });
  t.equal(read.status, 200, 'RFC 7592 management keeps working');
  t.equal((await json(read)).client_id, registered.client_id);
});

t.test('an anonymous registration has its audit line, marked, and leaves no secret in the log', async (t) => {
  const fresh = await freshDatabase(t);
  const server = await spawnServer(t, { fresh, env: { REGISTRATION: 'open', LOG_LEVEL: 'debug' } });
  const client: Json = await json(register(server, { ...MCP_CLIENT, token_endpoint_auth_method: 'client_secret_basic' }));
  t.ok(client.client_secret && client.registration_access_token);
  server.child.kill('SIGTERM');
  await server.exited;
  const output = server.output();
  const line = logLines(output).find((l) => l.audit === true && l.event === 'client.registered');
  t.match(line, { client_id: client.client_id, self_registered: true });
  t.notOk(output.includes(client.client_secret), 'the client secret is not in the log');
  t.notOk(output.includes(client.registration_access_token), 'the registration access token is not in the log');
  t.notMatch(output, /Bearer [A-Za-z0-9_-]{20,}/, 'nor the initial access token made for the registration');
});
