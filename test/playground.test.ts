import t from 'tap';
import type { Test } from 'tap';
import type { InteractionResults } from 'oidc-provider';
import { parsePlaygroundArgs, PlaygroundArgsError } from '../src/playground/options.js';
import { CookieJar, location } from './helpers/cookie-jar.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { authorizationLink, csrfToken, shown, startPlayground, unescapeHtml, type TestPlayground } from './helpers/playground.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * The playground as a relying party against a real Latchkey, over HTTP. Signing in and
 * approving happen here through the provider's own interaction model (what the pages do
 * with interactionFinished); test/browser-playground.test.ts drives the real pages in Chromium.
 */

async function page(jar: CookieJar, playground: TestPlayground): Promise<string> {
  const res = await jar.fetch(`${playground.url}/`);
  if (res.status !== 200) throw new Error(`playground page answered ${res.status}`);
  return res.text();
}

async function submit(jar: CookieJar, playground: TestPlayground, path: string, form: Record<string, string> = {}) {
  const csrf = csrfToken(await page(jar, playground));
  return jar.post(`${playground.url}${path}`, { _csrf: csrf, ...form });
}

/** Follows the authorization URL to the interaction, finishes it with `result`, returns where Latchkey sends the browser. */
async function interact(
  server: TestServer,
  jar: CookieJar,
  authorizationUrl: URL,
  result: (clientId: string) => Promise<InteractionResults>,
): Promise<URL> {
  const start = await jar.fetch(authorizationUrl);
  const interactionUrl = location(start, server.url);
  if (start.status !== 303 || !interactionUrl.pathname.startsWith('/interaction/')) {
    throw new Error(`authorization answered ${start.status} ${interactionUrl.href}`);
  }
  const uid = interactionUrl.pathname.split('/').pop()!;
  const interaction = await server.app.provider.Interaction.find(uid);
  if (!interaction) throw new Error('interaction not found');
  interaction.result = await result(String(interaction.params.client_id));
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  const resumed = await jar.fetch(interaction.returnTo);
  return location(resumed, server.url);
}

function approveAs(server: TestServer, accountId: number, scope: string) {
  return async (clientId: string) => {
    const grant = new server.app.provider.Grant({ accountId: String(accountId), clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    return { login: { accountId: String(accountId) }, consent: { grantId } };
  };
}

async function setup(t: Test) {
  const server = await startServer(t);
  const playground = await startPlayground(t, server.url);
  const user = await createUser(server.app);
  const client = await createClient(server.app, {
    client_name: 'playground',
    redirect_uris: [playground.callback],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile',
  });
  return { server, playground, user, client, jar: new CookieJar() };
}

t.test('the command line: defaults, overrides and one-line errors', async (t) => {
  const defaults = parsePlaygroundArgs([]);
  t.not(defaults, 'help');
  if (defaults === 'help') return;
  t.equal(defaults.issuer.origin, 'http://127.0.0.1:5000');
  t.equal(defaults.port, 8000);
  t.equal(defaults.publicUrl.origin, 'http://127.0.0.1:8000');
  const custom = parsePlaygroundArgs(['--issuer', 'https://auth.example.com', '--port', '8100', '--public-url', 'http://localhost:8100']);
  if (custom === 'help') throw new Error('unexpected help');
  t.equal(custom.issuer.origin, 'https://auth.example.com');
  t.equal(custom.port, 8100);
  t.equal(custom.publicUrl.origin, 'http://localhost:8100');
  t.equal(parsePlaygroundArgs(['--help']), 'help');
  t.throws(() => parsePlaygroundArgs(['--issuer', 'ftp://x']), PlaygroundArgsError);
  t.throws(() => parsePlaygroundArgs(['--issuer', 'http://x/path']), PlaygroundArgsError);
  t.throws(() => parsePlaygroundArgs(['--port', 'eighty']), PlaygroundArgsError);
  t.throws(() => parsePlaygroundArgs(['--bogus']), PlaygroundArgsError);
});

t.test('the start page: the forms, the redirect URI to register, a strict CSP, an HttpOnly session cookie', async (t) => {
  const server = await startServer(t);
  const playground = await startPlayground(t, server.url);
  const res = await fetch(`${playground.url}/`);
  t.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  t.match(csp, /default-src 'none'/);
  t.match(csp, /form-action 'self'/);
  t.notMatch(csp, /unsafe-inline/);
  t.equal(res.headers.get('cache-control'), 'no-store');
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('latchkey_playground='));
  t.ok(cookie, 'a session cookie');
  t.match(cookie!, /HttpOnly/i);
  t.match(cookie!, /SameSite=Lax/i);
  const html = await res.text();
  t.notMatch(html, /<script/i, 'no script at all');
  t.notMatch(html, /\son[a-z]+=/i, 'no inline event handler');
  for (const label of ['Client ID', 'Client secret', 'Token endpoint auth method', 'Scope', 'Initial access token']) {
    t.match(html, new RegExp(`<label for="[a-z_]+">${label}</label>`), `a field labelled ${label}`);
  }
  t.match(unescapeHtml(html), playground.callback, 'tells which redirect URI to register');
  const css = await fetch(`${playground.url}/static/playground.css`);
  t.equal(css.status, 200);
});

t.test('forms refuse a missing CSRF token and a cross-site Origin', async (t) => {
  const { playground, client, jar } = await setup(t);
  const html = await page(jar, playground);
  const form = {
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile',
  };
  const noToken = await jar.post(`${playground.url}/connect`, form);
  t.equal(noToken.status, 403);
  const crossSite = await jar.fetch(`${playground.url}/connect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    body: new URLSearchParams({ ...form, _csrf: csrfToken(html) }).toString(),
  });
  t.equal(crossSite.status, 403);
  t.notMatch(await page(jar, playground), /Continue to Latchkey/, 'no flow was started');
});

t.test('code flow with PKCE: every step shown, id_token verified, /api/me answered, then refresh and revoke', async (t) => {
  const { server, playground, user, client, jar } = await setup(t);
  const connect = await submit(jar, playground, '/connect', {
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile',
  });
  t.equal(connect.status, 303);
  let html = await page(jar, playground);
  const authorizationUrl = authorizationLink(html);
  t.equal(authorizationUrl.origin + authorizationUrl.pathname, `${server.url}/oauth/authorize`);
  const params = authorizationUrl.searchParams;
  t.equal(params.get('response_type'), 'code');
  t.equal(params.get('client_id'), client.clientId);
  t.equal(params.get('redirect_uri'), playground.callback);
  t.equal(params.get('scope'), 'openid profile');
  t.equal(params.get('code_challenge_method'), 'S256');
  t.match(params.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  t.match(params.get('state'), /^[A-Za-z0-9_-]{20,}$/);
  t.match(params.get('nonce'), /^[A-Za-z0-9_-]{20,}$/);
  t.same(shown(html, 'Authorization URL'), [authorizationUrl.href], 'step 1 shows the URL');

  const callback = await interact(server, jar, authorizationUrl, approveAs(server, user.id, 'openid profile'));
  t.equal(callback.origin + callback.pathname, playground.callback, 'Latchkey sends the browser to the playground');
  t.ok(callback.searchParams.get('code'));
  t.equal(callback.searchParams.get('state'), params.get('state'));
  const received = await jar.fetch(callback);
  t.equal(received.status, 303);

  html = await page(jar, playground);
  const text = unescapeHtml(html);
  t.same(shown(html, 'Callback URL'), [callback.href], 'step 2 shows the callback with its code');
  const [tokenJson] = shown(html, 'Token response');
  const tokens = JSON.parse(tokenJson!);
  t.equal(tokens.token_type.toLowerCase(), 'bearer');
  t.ok(tokens.access_token && tokens.refresh_token && tokens.id_token, 'access, refresh and id tokens');
  const [payloadJson] = shown(html, 'Payload (claims)');
  const claims = JSON.parse(payloadJson!);
  t.equal(claims.sub, String(user.id));
  t.equal(claims.iss, server.url);
  t.equal(claims.aud, client.clientId);
  t.equal(claims.nonce, params.get('nonce'));
  t.match(text, /passed: signature \(RS256, key [^)]+\) verified with http:\/\/127\.0\.0\.1:\d+\/oauth\/jwks/);
  t.match(text, 'passed: nonce is the one this playground sent');
  t.notMatch(text, /FAILED/, 'every check passed');
  t.same(shown(html, 'Status'), ['200']);
  t.same(JSON.parse(shown(html, 'Body')[0]!), { id: user.id, username: user.username }, '/api/me answers the person');
  t.notMatch(html, client.clientSecret!, 'the client secret never reaches the browser');

  await submit(jar, playground, '/refresh');
  html = await page(jar, playground);
  const refreshed = JSON.parse(shown(html, 'Token response')[1]!);
  t.ok(refreshed.access_token);
  t.not(refreshed.access_token, tokens.access_token, 'a new access token');
  t.not(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotated');
  t.notMatch(unescapeHtml(html), /FAILED/);

  await submit(jar, playground, '/api-me');
  html = await page(jar, playground);
  t.same(shown(html, 'Status'), ['200', '200'], 'the refreshed access token works at /api/me');

  await submit(jar, playground, '/revoke');
  html = await page(jar, playground);
  t.match(unescapeHtml(html), 'Revocation (RFC 7009)');
  t.same(shown(html, 'Status').at(-1), '401', '/api/me refuses the token after the revocation');
  t.match(shown(html, 'WWW-Authenticate').at(-1), /invalid_token/);
  const direct = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
  t.equal(direct.status, 401, 'and so does Latchkey when asked directly');
});

t.test('a public client (auth method none) goes through with PKCE alone', async (t) => {
  const { server, playground, user, jar } = await setup(t);
  const publicClient = await createClient(server.app, {
    redirect_uris: [playground.callback],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid profile',
    token_endpoint_auth_method: 'none',
  });
  await submit(jar, playground, '/connect', {
    client_id: publicClient.clientId,
    token_endpoint_auth_method: 'none',
    scope: 'openid profile',
  });
  const callback = await interact(
    server,
    jar,
    authorizationLink(await page(jar, playground)),
    approveAs(server, user.id, 'openid profile'),
  );
  await jar.fetch(callback);
  const html = await page(jar, playground);
  const tokens = JSON.parse(shown(html, 'Token response')[0]!);
  t.ok(tokens.access_token);
  t.notOk(tokens.refresh_token, 'no refresh token without the refresh_token grant');
  t.notMatch(html, />Refresh tokens</, 'so no refresh button');
  t.same(shown(html, 'Status'), ['200']);
});

t.test('Deny comes back as access_denied and nothing is exchanged', async (t) => {
  const { server, playground, client, jar } = await setup(t);
  await submit(jar, playground, '/connect', {
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile',
  });
  const callback = await interact(server, jar, authorizationLink(await page(jar, playground)), async () => ({
    error: 'access_denied',
    error_description: 'End-User aborted interaction',
  }));
  t.equal(callback.searchParams.get('error'), 'access_denied');
  await jar.fetch(callback);
  const html = unescapeHtml(await page(jar, playground));
  t.match(html, 'access_denied: End-User aborted interaction');
  t.notMatch(html, 'Token response');
});

t.test('a callback with another state is refused before any exchange; one without a flow gets 400', async (t) => {
  const { playground, client, jar } = await setup(t);
  const stranger = await fetch(`${playground.url}/callback?code=abc&state=xyz`);
  t.equal(stranger.status, 400);
  await submit(jar, playground, '/connect', {
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile',
  });
  const forged = await jar.fetch(`${playground.url}/callback?code=stolen&state=not-ours`);
  t.equal(forged.status, 303);
  const html = unescapeHtml(await page(jar, playground));
  t.match(html, 'FAILED: state is the one this playground sent');
  t.match(html, 'the code is not used');
  t.notMatch(html, 'Token response');
  const replay = await jar.fetch(`${playground.url}/callback?code=stolen&state=not-ours`);
  t.equal(replay.status, 400, 'the flow is over after its callback');
});

t.test('a wrong client secret fails at the token endpoint, and the page says invalid_client', async (t) => {
  const { server, playground, user, client, jar } = await setup(t);
  await submit(jar, playground, '/connect', {
    client_id: client.clientId,
    client_secret: 'not-the-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile',
  });
  const callback = await interact(
    server,
    jar,
    authorizationLink(await page(jar, playground)),
    approveAs(server, user.id, 'openid profile'),
  );
  await jar.fetch(callback);
  const html = unescapeHtml(await page(jar, playground));
  t.match(html, /3\. Token response[\s\S]*invalid_client/);
  t.notMatch(html, 'not-the-secret');
});

t.test('an unreachable issuer is reported on the form', async (t) => {
  const playground = await startPlayground(t, 'http://127.0.0.1:9');
  const jar = new CookieJar();
  const res = await submit(jar, playground, '/connect', {
    client_id: 'x',
    client_secret: 'y',
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid',
  });
  t.equal(res.status, 303);
  t.match(unescapeHtml(await page(jar, playground)), /Could not use this client with http:\/\/127\.0\.0\.1:9\/: /);
});

t.test('the playground registers itself with an initial access token (RFC 7591) and completes a flow', async (t) => {
  const { server, playground, user, jar } = await setup(t);
  const initialAccessToken = await new server.app.provider.InitialAccessToken({}).save();
  await submit(jar, playground, '/register', { initial_access_token: initialAccessToken });
  const html = await page(jar, playground);
  const [registration] = shown(html, 'Registration response');
  t.ok(registration, 'the registration response is shown');
  const metadata = JSON.parse(registration!);
  t.same(metadata.redirect_uris, [playground.callback]);
  t.equal(metadata.client_secret, '(kept by the playground, never sent to your browser)');
  t.equal(metadata.registration_access_token, '(kept by the playground, never sent to your browser)');
  const callback = await interact(server, jar, authorizationLink(html), approveAs(server, user.id, 'openid profile'));
  await jar.fetch(callback);
  const done = await page(jar, playground);
  t.same(shown(done, 'Status'), ['200']);
  t.notMatch(unescapeHtml(done), /FAILED/);
});
