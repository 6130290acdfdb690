import t from 'tap';
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../src/db/schema.js';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { authorizeUrl, pkce, returned, signInAndConsent } from './helpers/grant-flows.js';
import type { Json } from './helpers/http.js';
import { post, token } from './helpers/oauth.js';
import { registerMachineClient } from './helpers/registration.js';
import { startServer } from './helpers/server.js';

/**
 * A copy of the database is no key to anything: real flows run against a real server, every
 * credential they issue or use is collected (tokens, codes, device codes and user codes, the
 * provider's session and interaction cookies, the forms' CSRF secrets, client secrets,
 * registration access tokens, a pushed request's id), and every row of every table, dumped as
 * text at several points, is searched for each of them.
 */

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

/** Every row of every table of the current schema, as PostgreSQL writes it out. */
async function dump(db: Kysely<Schema>): Promise<{ text: string; rows: Record<string, number> }> {
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1`.execute(db);
  const parts: string[] = [];
  const rows: Record<string, number> = {};
  for (const { name } of tables.rows) {
    const result = await sql<{ row: string }>`select t::text as row from ${sql.table(name)} t`.execute(db);
    rows[name] = result.rows.length;
    parts.push(`-- ${name}`, ...result.rows.map((r) => r.row));
  }
  return { text: parts.join('\n'), rows };
}

const models = async (db: Kysely<Schema>) => (await db.selectFrom('oidc_payloads').select('model').execute()).map((r) => r.model);

t.test('no credential the flows issued or used is stored in clear', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const web = await createClient(app, {
    redirect_uris: [REDIRECT_URI],
    scope: 'openid profile',
    grant_types: ['authorization_code', 'password', 'refresh_token'],
  });
  const machine = await createClient(app, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  const tv = await createClient(app, { grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], response_types: [], redirect_uris: [] });

  const secrets = new Map<string, string>();
  const keep = (what: string, value: unknown) => {
    if (typeof value !== 'string' || value.length < 8) throw new Error(`no ${what} to look for (${String(value)})`);
    const known = secrets.get(value);
    if (!known?.split(' = ').includes(what)) secrets.set(value, known ? `${known} = ${what}` : what);
  };
  for (const [name, client] of Object.entries({ web, machine, tv })) keep(`${name} client secret`, client.clientSecret);
  keep('password', user.password);

  const browser = new BrowserSession(url);
  /** Every cookie the browser holds now (the provider's _session and _interaction among them). */
  const keepCookies = () => {
    for (const pair of browser.jar.header(new URL(url)).split('; ').filter(Boolean)) {
      const eq = pair.indexOf('=');
      const value = decodeURIComponent(pair.slice(eq + 1));
      keep(`cookie ${pair.slice(0, eq)}`, value);
      // A signed cookie of ours is "<id>.<signature>": the id alone is what must not be stored.
      if (value.includes('.')) keep(`cookie ${pair.slice(0, eq)} (its id)`, value.slice(0, value.lastIndexOf('.')));
    }
  };
  const checked: string[] = [];
  /** Dumps the database and requires none of the credentials collected so far in it. */
  const checkpoint = async (when: string, expected: string[] = []) => {
    keepCookies();
    const { text, rows } = await dump(app.db);
    t.ok(rows.oidc_payloads && rows.accounts, `${when}: the dump holds the tables`);
    t.ok(text.includes(web.clientId) && text.includes(user.username), `${when}: the dump holds what is stored in clear`);
    const stored = await models(app.db);
    for (const model of expected) t.ok(stored.includes(model), `${when}: a ${model} is stored`);
    const leaked = [...secrets].filter(([value]) => text.includes(value)).map(([, what]) => what);
    t.same(leaked, [], `${when}: none of ${secrets.size} credentials is in the database`);
    checked.push(when);
  };

  // Authorization code with PKCE, through the login and consent pages.
  const { verifier, challenge } = pkce();
  keep('code verifier', verifier);
  const start = authorizeUrl(url, {
    response_type: 'code',
    client_id: web.clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const login = await browser.get(start);
  t.ok(browser.hasButton(login, 'Sign in'), 'the login page');
  keep('login form CSRF token', browser.csrf(login));
  await checkpoint('login pending', ['Interaction']);
  const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
  t.ok(browser.hasButton(consent, 'Allow'), 'the consent page');
  await checkpoint('consent pending (a signed-in session)', ['Interaction', 'Session']);
  const code = returned(await browser.submit(consent, 'Allow')).searchParams.get('code');
  keep('authorization code', code);
  const exchanged = await token(url, web, {
    grant_type: 'authorization_code',
    code: code!,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  });
  t.equal(exchanged.status, 200, 'code exchanged');
  keep('access token', exchanged.body.access_token);
  keep('refresh token', exchanged.body.refresh_token);
  keep('id token', exchanged.body.id_token);

  const refreshed = await token(url, web, { grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token });
  t.equal(refreshed.status, 200, 'refreshed');
  keep('refreshed access token', refreshed.body.access_token);
  keep('rotated refresh token', refreshed.body.refresh_token);

  const machineToken = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile' });
  t.equal(machineToken.status, 200, 'client credentials');
  keep('client credentials token', machineToken.body.access_token);

  const byPassword = await token(url, web, { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' });
  t.equal(byPassword.status, 200, 'password grant');
  keep('password grant access token', byPassword.body.access_token);
  keep('password grant refresh token', byPassword.body.refresh_token);

  // A pushed authorization request, resumed by the signed-in browser up to its consent prompt.
  const pushed = await post(
    `${url}/oauth/par`,
    {
      client_id: web.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile',
      prompt: 'consent',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    },
    { basicAuth: { id: web.clientId, secret: web.clientSecret }, encoding: 'urlencoded' },
  );
  t.equal(pushed.status, 201, 'pushed');
  keep('pushed request id', String(pushed.body.request_uri).split(':').pop());
  const pushedConsent = await browser.get(authorizeUrl(url, { client_id: web.clientId, request_uri: pushed.body.request_uri }));
  t.ok(browser.hasButton(pushedConsent, 'Allow'), 'the pushed request asks for consent');
  await checkpoint('pushed request pending', ['Interaction', 'PushedAuthorizationRequest']);

  // The device flow, up to a pending and then an approved device code.
  const device = await post(
    `${url}/oauth/device/auth`,
    { scope: 'profile' },
    { basicAuth: { id: tv.clientId, secret: tv.clientSecret }, encoding: 'urlencoded' },
  );
  t.equal(device.status, 200, 'device authorization');
  keep('device code', device.body.device_code);
  // User codes are short, but stored only as the SHA-256 of their lookup key: they are looked for too.
  keep('user code', device.body.user_code);
  keep('user code without dash', String(device.body.user_code).replace('-', ''));
  const input = await browser.get(device.body.verification_uri_complete);
  keep('device form xsrf', hidden(input.html, 'xsrf'));
  const confirm = await browser.post('/oauth/device', { xsrf: hidden(input.html, 'xsrf')!, user_code: device.body.user_code });
  t.match(mainText(confirm), 'Connect', 'the device confirmation');
  const deviceConsent = await browser.post('/oauth/device', {
    xsrf: hidden(confirm.html, 'xsrf')!,
    user_code: hidden(confirm.html, 'user_code')!,
    confirm: 'yes',
  });
  t.ok(browser.hasButton(deviceConsent, 'Allow'), 'the device flow asks for consent');
  await checkpoint('device code pending', ['Interaction', 'DeviceCode']);
  const connected = await signInAndConsent(browser, deviceConsent, user, { consent: 'Allow' });
  t.match(mainText(connected), 'Device connected');
  await checkpoint('device code approved', ['DeviceCode']);
  const deviceTokens = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: device.body.device_code });
  t.equal(deviceTokens.status, 200, 'the device gets its tokens');
  keep('device access token', deviceTokens.body.access_token);
  keep('device refresh token', deviceTokens.body.refresh_token);

  // Dynamic registration, and the registration access token read and rotated.
  const initial = await createInitialAccessToken(app.provider, 600);
  keep('initial access token', initial.token);
  const registration = await registerMachineClient(url, initial.token);
  t.equal(registration.status, 201, 'registered');
  const registered = registration.body;
  keep('registered client secret', registered.client_secret);
  keep('registration access token', registered.registration_access_token);
  const update = await fetch(registered.registration_client_uri, {
    method: 'PUT',
    headers: { authorization: `Bearer ${registered.registration_access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: registered.client_id,
      client_secret: registered.client_secret,
      client_name: 'renamed',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  t.equal(update.status, 200, 'updated through the registration access token');
  keep('rotated registration access token', ((await update.json()) as Json).registration_access_token);
  await checkpoint('after registration', ['Client', 'RegistrationAccessToken']);

  // RP-initiated logout, started: its confirmation waits with a secret in the session.
  const logout = await browser.get(
    `/oauth/logout?${new URLSearchParams({ id_token_hint: exchanged.body.id_token, client_id: web.clientId })}`,
  );
  t.match(mainText(logout), 'Sign out of', 'the logout confirmation');
  keep('logout form xsrf', hidden(logout.html, 'xsrf'));
  await checkpoint('logout pending', ['Session']);
  const signedOut = await browser.post('/oauth/logout/confirm', { xsrf: hidden(logout.html, 'xsrf')!, logout: 'yes' });
  t.match(mainText(signedOut), 'You are signed out', 'the logout secret, sealed, still confirms it');

  await checkpoint('after everything', ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials', 'Grant']);
  t.equal(checked.length, 8, 'every checkpoint ran');
});
