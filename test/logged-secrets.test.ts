import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { loggerOptions } from '../src/observability/logging.js';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { REDIRECT_URI } from './helpers/code-flow.js';
import { freshDatabase } from './helpers/database.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { authorizeUrl, pkce, returned, signInAndConsent } from './helpers/grant-flows.js';
import type { Json } from './helpers/http.js';
import { post, token } from './helpers/oauth.js';
import { logLines, spawnServer, withApp } from './helpers/process.js';
import { registerMachineClient } from './helpers/registration.js';

/**
 * Every flow against a server process logging at trace level, every credential it issues or
 * uses collected (passwords, client secrets, codes, verifiers, access, refresh and ID tokens,
 * device and user codes, initial and registration access tokens, cookies, the forms' secrets),
 * some of them also sent where they do not belong (in a query string, under the names of the
 * parameters that carry tokens, to a page that does not exist): none may appear in the log.
 */

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

t.test('no credential appears in the log', async (t) => {
  const fresh = await freshDatabase(t);
  // Set up before the server starts: the embedded database admits one process at a time.
  const setup = await withApp(fresh, async (app) => ({
    user: await createUser(app),
    web: await createClient(app, {
      redirect_uris: [REDIRECT_URI],
      scope: 'openid profile',
      grant_types: ['authorization_code', 'password', 'refresh_token'],
    }),
    machine: await createClient(app, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }),
    tv: await createClient(app, { grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], response_types: [], redirect_uris: [] }),
    initialAccessToken: (await createInitialAccessToken(app.provider, 3600)).token,
  }));
  const { user, web, machine, tv } = setup;
  const server = await spawnServer(t, { fresh, env: { LOG_LEVEL: 'trace' } });
  const url = server.url;

  const secrets = new Map<string, string>();
  const keep = (what: string, value: unknown) => {
    if (typeof value !== 'string' || value.length < 8) throw new Error(`no ${what} to look for (${String(value)})`);
    const known = secrets.get(value);
    if (!known?.split(' = ').includes(what)) secrets.set(value, known ? `${known} = ${what}` : what);
  };
  keep('password', user.password);
  for (const [name, client] of Object.entries({ web, machine, tv })) keep(`${name} client secret`, client.clientSecret);
  keep('initial access token', setup.initialAccessToken);
  const browser = new BrowserSession(url);
  const keepCookies = () => {
    for (const pair of browser.jar.header(new URL(url)).split('; ').filter(Boolean)) {
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      // _interaction holds the interaction's uid, which is in its page's URL by design (/interaction/:uid).
      if (!/^_interaction(_resume)?$/.test(name)) keep(`cookie ${name}`, decodeURIComponent(pair.slice(eq + 1)));
    }
  };

  // Authorization code with PKCE, openid and a nonce, through the login and consent pages.
  const { verifier, challenge } = pkce();
  keep('code verifier', verifier);
  const [state, nonce] = [pkce().verifier, pkce().verifier];
  keep('state', state);
  keep('nonce', nonce);
  const login = await browser.get(
    authorizeUrl(url, {
      response_type: 'code',
      client_id: web.clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    }),
  );
  keep('login form CSRF token', browser.csrf(login));
  const code = returned(await signInAndConsent(browser, login, user, { consent: 'Allow' })).searchParams.get('code');
  keep('authorization code', code);
  keepCookies();
  const tokens = await token(url, web, {
    grant_type: 'authorization_code',
    code: code!,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  });
  t.equal(tokens.status, 200, 'code exchanged');
  keep('access token', tokens.body.access_token);
  keep('refresh token', tokens.body.refresh_token);
  keep('ID token', tokens.body.id_token);
  const bearer = { authorization: `Bearer ${tokens.body.access_token}` };
  t.equal((await fetch(`${url}/api/me`, { headers: bearer })).status, 200, '/api/me');
  t.equal((await fetch(`${url}/oauth/userinfo`, { headers: bearer })).status, 200, 'userinfo');

  const refreshed = await token(url, web, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
  t.equal(refreshed.status, 200, 'refreshed');
  keep('refreshed access token', refreshed.body.access_token);
  keep('rotated refresh token', refreshed.body.refresh_token);
  keep('refreshed ID token', refreshed.body.id_token);

  const machineToken = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile' });
  t.equal(machineToken.status, 200, 'client credentials');
  keep('client credentials token', machineToken.body.access_token);

  const wrong = 'definitely-not-the-password';
  keep('wrong password', wrong);
  t.equal((await token(url, web, { grant_type: 'password', username: user.username, password: wrong, scope: 'profile' })).status, 400);
  const byPassword = await token(url, web, { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' });
  t.equal(byPassword.status, 200, 'password grant');
  keep('password grant access token', byPassword.body.access_token);
  keep('password grant refresh token', byPassword.body.refresh_token);

  const auth = { basicAuth: { id: web.clientId, secret: web.clientSecret }, encoding: 'urlencoded' as const };
  t.equal((await post(`${url}/oauth/introspect`, { token: byPassword.body.access_token }, auth)).body.active, true, 'introspected');
  t.equal((await post(`${url}/oauth/revoke`, { token: byPassword.body.refresh_token }, auth)).status, 200, 'revoked');

  // The device flow, approved by the signed-in browser.
  const device = await post(
    `${url}/oauth/device/auth`,
    { scope: 'profile' },
    { basicAuth: { id: tv.clientId, secret: tv.clientSecret }, encoding: 'urlencoded' },
  );
  t.equal(device.status, 200, 'device authorization');
  keep('device code', device.body.device_code);
  keep('user code', device.body.user_code);
  keep('user code without dash', String(device.body.user_code).replace('-', ''));
  const input = await browser.get(device.body.verification_uri_complete);
  keep('device form xsrf', hidden(input.html, 'xsrf'));
  const confirm = await browser.post('/oauth/device', { xsrf: hidden(input.html, 'xsrf')!, user_code: device.body.user_code });
  const approving = await browser.post('/oauth/device', {
    xsrf: hidden(confirm.html, 'xsrf')!,
    user_code: hidden(confirm.html, 'user_code')!,
    confirm: 'yes',
  });
  t.match(mainText(await signInAndConsent(browser, approving, user, { consent: 'Allow' })), 'Device connected');
  const deviceTokens = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: device.body.device_code });
  t.equal(deviceTokens.status, 200, 'the device gets its tokens');
  keep('device access token', deviceTokens.body.access_token);
  keep('device refresh token', deviceTokens.body.refresh_token);

  // Dynamic registration; the registration access token reads, updates (rotated) and deletes.
  const registration = await registerMachineClient(url, setup.initialAccessToken);
  t.equal(registration.status, 201, 'registered');
  const registered = registration.body;
  keep('registered client secret', registered.client_secret);
  keep('registration access token', registered.registration_access_token);
  const manage = (rat: string, method: string, body?: unknown) =>
    fetch(registered.registration_client_uri, {
      method,
      headers: { authorization: `Bearer ${rat}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  t.equal((await manage(registered.registration_access_token, 'GET')).status, 200, 'read');
  const update = {
    client_id: registered.client_id,
    client_secret: registered.client_secret,
    client_name: 'renamed',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const updated = await manage(registered.registration_access_token, 'PUT', update);
  t.equal(updated.status, 200, 'updated');
  const rotated = ((await updated.json()) as Json).registration_access_token;
  keep('rotated registration access token', rotated);
  t.equal((await manage(rotated, 'DELETE')).status, 204, 'deleted');

  // Credentials where they do not belong: in query strings, under the names of token-carrying parameters.
  const idToken = tokens.body.id_token as string;
  const stray = {
    request: idToken,
    request_uri: `urn:ietf:params:oauth:request_uri:${deviceTokens.body.access_token}`,
    login_hint_token: idToken,
    assertion: idToken,
    subject_token: refreshed.body.access_token,
    actor_token: refreshed.body.id_token,
    client_assertion: idToken,
    registration_access_token: rotated,
    logout_token: idToken,
    access_token: refreshed.body.access_token,
  };
  const probe = async (path: string, init: RequestInit = {}) => (await fetch(`${url}${path}`, { ...init, redirect: 'manual' })).status;
  t.ok(await probe(`/oauth/authorize?${new URLSearchParams({ client_id: web.clientId, response_type: 'code', ...stray })}`));
  t.equal(await probe(`/oauth/token?${new URLSearchParams(stray)}`, { method: 'POST', headers: { dpop: idToken } }), 400);
  t.equal(await probe(`/no/such/page?${new URLSearchParams({ id_token_hint: idToken, ...stray })}`), 404);
  t.equal(await probe(`/oauth/userinfo/${idToken}`), 404);

  // RP-initiated logout with id_token_hint, confirmed.
  keepCookies();
  const logout = await browser.get(`/oauth/logout?${new URLSearchParams({ id_token_hint: idToken, client_id: web.clientId })}`);
  t.match(mainText(logout), 'Sign out of', 'the logout confirmation');
  keep('logout form xsrf', hidden(logout.html, 'xsrf'));
  const out = await browser.post('/oauth/logout/confirm', { xsrf: hidden(logout.html, 'xsrf')!, logout: 'yes' });
  t.match(mainText(out), 'You are signed out');

  server.child.kill('SIGTERM');
  await server.exited;
  const output = server.output();
  const lines = logLines(output);
  t.ok(lines.length > 50, `the log has its lines (${lines.length})`);
  t.ok(
    lines.some((line) => String((line.req as { url?: string } | undefined)?.url).startsWith('/oauth/logout?')),
    'the logout request, with its query, is in the log',
  );
  t.ok(output.includes(web.clientId), 'what may be logged is logged');
  const leaked = [...secrets].filter(([value]) => output.includes(value)).map(([, what]) => what);
  t.same(leaked, [], `none of ${secrets.size} credentials is in the log`);
});

t.test('logged objects and messages: credentials under their names, JWTs and secret parameters anywhere', async (t) => {
  let text = '';
  const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => done(void (text += chunk.toString())) });
  const log = pino({ ...(loggerOptions(loadConfig({ LOG_LEVEL: 'trace' })) as pino.LoggerOptions), level: 'trace' }, stream);
  const jwt = ['eyJhbGciOiJSUzI1NiJ9', 'eyJzdWIiOiIxIn0', 'c2lnbmF0dXJlLW9mLWEtdG9rZW4'].join('.');
  const secrets = ['top-level-password', 'nested-hint-value', 'registration-token-value', 'query-code-value', 'cookie-header-value', jwt];
  log.info({ password: 'top-level-password', params: { id_token_hint: 'nested-hint-value', client_id: 'app-1' } }, 'a request');
  log.debug({ list: [{ registration_access_token: 'registration-token-value' }], note: `signed ${jwt}` });
  log.trace(`Route GET:/oauth/logout?client_id=app-1&code=query-code-value not found`);
  log.warn({ headers: { cookie: 'cookie-header-value', DPoP: jwt }, url: `/cb?id_token_hint=${jwt}` }, 'headers');
  log.error(Object.assign(new Error(`bad token ${jwt}`), { request: jwt }), 'failed');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(text.trim().split('\n').length, 5, 'every line was written');
  t.match(text, /app-1/, 'what is no secret stays readable');
  for (const secret of secrets) t.notOk(text.includes(secret), `${secret.slice(0, 24)} is not in the log`);
});
