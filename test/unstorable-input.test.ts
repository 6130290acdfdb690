import t, { type Test } from 'tap';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { REDIRECT_URI } from './helpers/code-flow.js';
import { createClient } from './helpers/fixtures.js';
import { basic, json, type Json } from './helpers/http.js';
import { startServer } from './helpers/server.js';

/**
 * PostgreSQL stores neither NUL nor an unpaired UTF-16 surrogate (text or jsonb). Wherever a
 * request to the provider carries one (query, form, JSON; values and keys), the answer is a
 * 4xx with an OAuth error, never a 5xx; ordinary unicode (emoji: surrogate pairs) still works.
 */

t.setTimeout(300_000);

const FORM = 'application/x-www-form-urlencoded';
const EMOJI = 'caf\u00e9 \u{1f98a}\u{1f510}';

interface Answer {
  status: number;
  body: Json;
  location: string | null;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, body, location: res.headers.get('location') };
}

/** A 4xx carrying `error`, and so never a 5xx. */
function refused(t: Test, got: Answer, error: string, what: string): void {
  t.ok(got.status >= 400 && got.status < 500, `${what}: a 4xx (got ${got.status})`);
  t.equal(got.body.error, error, `${what}: ${error}`);
}

t.test('unstorable text never reaches the database', async (t) => {
  const server = await startServer(t);
  const { url, app } = server;
  const web = await createClient(app, {
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'client_credentials', 'refresh_token'],
    scope: 'openid profile',
  });
  const device = await createClient(app, {
    grant_types: [DEVICE_CODE_GRANT],
    response_types: [],
    redirect_uris: [],
    scope: 'openid profile',
  });
  const { token } = await createInitialAccessToken(app.provider, 3600);

  const authorizeParams = (extra: Record<string, string>) => ({
    response_type: 'code',
    client_id: web.clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile',
    state: 'st',
    nonce: 'no',
    ...extra,
  });
  const authorizeGet = (extra: Record<string, string>) =>
    fetch(`${url}/oauth/authorize?${new URLSearchParams(authorizeParams(extra))}`, { redirect: 'manual' }).then(answer);
  const authorizePost = (extra: Record<string, string>) =>
    fetch(`${url}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': FORM },
      body: new URLSearchParams(authorizeParams(extra)).toString(),
    }).then(answer);
  const form = (path: string, fields: Record<string, string>, client = web) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': FORM, authorization: basic(client.clientId, client.clientSecret ?? '') },
      body: new URLSearchParams(fields).toString(),
    }).then(answer);
  const register = (text: string) =>
    fetch(`${url}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: text,
    }).then(answer);

  t.test('GET and POST /oauth/authorize: every parameter, known or not', async (t) => {
    for (const name of ['state', 'nonce', 'login_hint', 'ui_locales', 'acr_values', 'claims_locales', 'prompt', 'unknown_parameter']) {
      refused(t, await authorizeGet({ [name]: 'x\u0000y' }), 'invalid_request', `GET ${name}`);
      refused(t, await authorizePost({ [name]: 'x\u0000y' }), 'invalid_request', `POST ${name}`);
    }
    refused(t, await authorizeGet({ 'st\u0000ate': 'x' }), 'invalid_request', 'GET, a NUL in a name');
    const literal = await fetch(`${url}/oauth/authorize?${new URLSearchParams(authorizeParams({}))}&login_hint=a%00b`, {
      redirect: 'manual',
    });
    refused(t, await answer(literal), 'invalid_request', 'GET, %00 spelled in the URL');
    const raw = await fetch(`${url}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': FORM },
      body: Buffer.concat([Buffer.from(`${new URLSearchParams(authorizeParams({}))}&state=a`), Buffer.from([0]), Buffer.from('b')]),
    });
    refused(t, await answer(raw), 'invalid_request', 'POST, a literal NUL byte');
  });

  t.test('the device authorization endpoint', async (t) => {
    refused(
      t,
      await form('/oauth/device/auth', { client_id: device.clientId, scope: 'openid', login_hint: 'a\u0000' }, device),
      'invalid_request',
      'login_hint',
    );
    refused(t, await form('/oauth/device/auth', { client_id: device.clientId, scope: 'openid\u0000' }, device), 'invalid_request', 'scope');
    const user = await fetch(`${url}/oauth/device?user_code=AB%00CD`, { redirect: 'manual' }).then(answer);
    refused(t, user, 'invalid_request', 'user_code at the verification page');
  });

  t.test('logout', async (t) => {
    const get = await fetch(`${url}/oauth/logout?client_id=${web.clientId}&state=a%00b`, { redirect: 'manual' }).then(answer);
    refused(t, get, 'invalid_request', 'GET state');
    const post = await fetch(`${url}/oauth/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': FORM },
      body: `client_id=${web.clientId}&state=a%00b`,
    }).then(answer);
    refused(t, post, 'invalid_request', 'POST state');
  });

  t.test('the token endpoint', async (t) => {
    refused(t, await form('/oauth/token', { grant_type: 'client_credentials', scope: 'profile\u0000' }), 'invalid_request', 'scope');
    const code = await form('/oauth/token', { grant_type: 'authorization_code', code: 'abc\u0000def', redirect_uri: REDIRECT_URI });
    refused(t, code, 'invalid_request', 'code');
    const multipart = new FormData();
    multipart.append('grant_type', 'client_credentials');
    multipart.append('scope', 'profile\u0000');
    const curlF = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(web.clientId, web.clientSecret ?? '') },
      body: multipart,
    });
    refused(t, await answer(curlF), 'invalid_request', 'scope, multipart (curl -F)');
    for (const charset of ['utf-16le', 'x-unknown']) {
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': `${FORM}; charset=${charset}`, authorization: basic(web.clientId, web.clientSecret ?? '') },
        body: 'grant_type=client_credentials&scope=profile%00',
      });
      refused(t, await answer(res), 'invalid_request', `%00 in a form declared ${charset} (the provider reads UTF-8)`);
    }
  });

  t.test('a path parameter', async (t) => {
    const res = await fetch(`${url}/oauth/register/a%00b`, { headers: { authorization: `Bearer ${token}` } }).then(answer);
    refused(t, res, 'invalid_request', 'GET /oauth/register/:id');
  });

  const registration = (value: string) => ({ client_name: value, grant_types: ['client_credentials'], scope: 'profile' });
  const escapes: Array<[string, string]> = [
    ['\\u0000', 'a NUL'],
    ['\\ud800', 'a lone high surrogate'],
    ['\\uDC00', 'a lone low surrogate'],
  ];

  t.test('POST /oauth/register: values and keys', async (t) => {
    for (const [escape, what] of escapes) {
      const inValue = `{"client_name":"x${escape}","grant_types":["client_credentials"],"scope":"profile"}`;
      refused(t, await register(inValue), 'invalid_client_metadata', `${what} in a value`);
      const inArray = `{"client_name":"a","grant_types":["client_credentials"],"scope":"profile","contacts":["x${escape}"]}`;
      refused(t, await register(inArray), 'invalid_client_metadata', `${what} in an array`);
      refused(
        t,
        await register(`{"client_name":"a","grant_types":["client_credentials"],"scope":"profile","k${escape}":1}`),
        'invalid_client_metadata',
        `${what} in a key`,
      );
    }
    let deep = '"\\u0000"';
    for (let i = 0; i < 40; i++) deep = `{"a":${deep}}`;
    refused(
      t,
      await register(`{"client_name":"a","grant_types":["client_credentials"],"scope":"profile","x":${deep}}`),
      'invalid_client_metadata',
      'deep down',
    );
  });

  t.test('PUT /oauth/register/:id', async (t) => {
    const created: Json = (await register(JSON.stringify(registration('to update')))).body;
    t.type(created.registration_access_token, 'string', 'a client to update');
    for (const [escape, what] of escapes) {
      const body = `{"client_id":"${created.client_id}","client_name":"y${escape}","grant_types":["client_credentials"],"scope":"profile"}`;
      const res = await fetch(created.registration_client_uri, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${created.registration_access_token}` },
        body,
      }).then(answer);
      refused(t, res, 'invalid_client_metadata', what);
    }
    const read = await fetch(created.registration_client_uri, {
      headers: { authorization: `Bearer ${created.registration_access_token}` },
    });
    t.equal((await json(read)).client_name, 'to update', 'the client is unchanged and its token still works');
  });

  t.test('ordinary unicode still goes through', async (t) => {
    const authorize = await authorizeGet({ state: EMOJI, login_hint: EMOJI, ui_locales: 'fr-CA' });
    t.equal(authorize.status, 303, 'GET /oauth/authorize with emoji: on to the login');
    t.match(authorize.location, /^\/interaction\//);
    const logout = await fetch(`${url}/oauth/logout?${new URLSearchParams({ client_id: web.clientId, state: EMOJI })}`).then(answer);
    t.equal(logout.status, 200, 'GET /oauth/logout with emoji: the confirmation page');
    const named = await register(JSON.stringify(registration(EMOJI)));
    t.equal(named.status, 201, 'a client named with emoji is registered');
    t.equal(named.body.client_name, EMOJI);
    const escaped = await register(
      `{"client_name":"\\ud83e\\udd8a \\\\u0000 literally","grant_types":["client_credentials"],"scope":"profile"}`,
    );
    t.equal(escaped.status, 201, 'an escaped pair, and a backslash before u0000, are fine');
    t.equal(escaped.body.client_name, '\u{1f98a} \\u0000 literally');
    const deviceAuth = await form('/oauth/device/auth', { client_id: device.clientId, scope: 'openid', login_hint: EMOJI }, device);
    t.equal(deviceAuth.status, 200, 'the device endpoint with an emoji login_hint');
    const issued = await form('/oauth/token', { grant_type: 'client_credentials', scope: 'profile' });
    t.equal(issued.status, 200, 'the token endpoint');
  });
});
