import t from 'tap';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { sha256 } from '../src/crypto/hash.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { apiMe, discovery, passwordGrant, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

t.test('the password grant, as the Authlib example shows it', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app);

  const disco = await discovery(url);
  t.ok(disco.grant_types_supported.includes('password'), 'discovery lists the password grant');

  t.test("answers the Authlib example's fields and a refresh token (the client may refresh)", async (t) => {
    const res = await passwordGrant(url, client, user.username, user.password);
    t.equal(res.status, 200);
    t.same(
      Object.keys(res.body),
      ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'],
      "exactly the Authlib example's fields, in its order",
    );
    t.equal(res.body.token_type, 'Bearer');
    t.equal(res.body.scope, 'profile');
    t.equal(res.body.expires_in, 3600);
    t.match(res.body.access_token, /^[A-Za-z0-9_-]{43,}$/, 'an opaque access token');
    t.notOk(res.body.access_token.includes('.'), 'not a JWT');
    t.equal(res.headers.get('cache-control'), 'no-store');

    const me = await apiMe(url, res.body.access_token);
    t.equal(me.status, 200);
    t.same(me.body, { id: user.id, username: user.username });
  });

  t.test('a username is matched without regard to case, as at the sign-in form', async (t) => {
    const res = await passwordGrant(url, client, user.username.toUpperCase(), user.password);
    t.equal(res.status, 200);
  });

  t.test('client_secret_post works as well as client_secret_basic', async (t) => {
    const postClient = await createClient(app, { token_endpoint_auth_method: 'client_secret_post' });
    const res = await post(
      `${url}/oauth/token`,
      {
        grant_type: 'password',
        username: user.username,
        password: user.password,
        scope: 'profile',
        client_id: postClient.clientId,
        client_secret: postClient.clientSecret!,
      },
      { encoding: 'urlencoded' },
    );
    t.equal(res.status, 200);
    t.equal(res.body.scope, 'profile');
    const wrongSecret = await post(
      `${url}/oauth/token`,
      {
        grant_type: 'password',
        username: user.username,
        password: user.password,
        client_id: postClient.clientId,
        client_secret: 'not-the-secret',
      },
      { encoding: 'urlencoded' },
    );
    t.equal(wrongSecret.status, 401);
    t.equal(wrongSecret.body.error, 'invalid_client');
  });

  t.test('no refresh token for a client that may not refresh', async (t) => {
    const noRefresh = await createClient(app, { grant_types: ['authorization_code', 'password'] });
    const res = await passwordGrant(url, noRefresh, user.username, user.password);
    t.equal(res.status, 200);
    t.notOk('refresh_token' in res.body);
    t.same(Object.keys(res.body), ['access_token', 'expires_in', 'scope', 'token_type']);
  });

  t.test('a wrong password or unknown username is 400 invalid_grant', async (t) => {
    for (const [username, password] of [
      [user.username, 'not the password'],
      ['nobody-here', user.password],
    ] as const) {
      const res = await passwordGrant(url, client, username, password);
      t.equal(res.status, 400, `${username}`);
      t.equal(res.body.error, 'invalid_grant');
      t.notOk(res.body.access_token);
    }
  });

  t.test('a missing username or password is 400 invalid_request', async (t) => {
    const noPassword = await token(url, client, { grant_type: 'password', username: user.username, scope: 'profile' });
    t.equal(noPassword.status, 400);
    t.equal(noPassword.body.error, 'invalid_request');
    const noUsername = await token(url, client, { grant_type: 'password', password: user.password });
    t.equal(noUsername.status, 400);
    t.equal(noUsername.body.error, 'invalid_request');
  });

  t.test('a wrong client secret is 401 invalid_client, whatever the password', async (t) => {
    const res = await passwordGrant(url, { clientId: client.clientId, clientSecret: 'guess' }, user.username, user.password);
    t.equal(res.status, 401);
    t.equal(res.body.error, 'invalid_client');
  });

  t.test('a client not registered for the password grant is refused', async (t) => {
    const codeOnly = await createClient(app, { grant_types: ['authorization_code', 'refresh_token'] });
    const res = await passwordGrant(url, codeOnly, user.username, user.password);
    t.equal(res.status, 400);
    t.match(res.body, { error: /invalid_request|unauthorized_client/ });
    t.notOk(res.body.access_token);
  });

  t.test('a public client may never use it, even if its registration said so', async (t) => {
    // Registration refuses this combination; the grant refuses it again, should a row ever hold it.
    const publicClient = await createClient(app, { token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
    const stored = (
      await app.db
        .selectFrom('oidc_payloads')
        .select('payload')
        .where('model', '=', 'Client')
        .where('key', '=', sha256(publicClient.clientId))
        .executeTakeFirstOrThrow()
    ).payload;
    await app.db
      .updateTable('oidc_payloads')
      .set({ payload: JSON.stringify({ ...stored, grant_types: ['authorization_code', 'password'] }) })
      .where('model', '=', 'Client')
      .where('key', '=', sha256(publicClient.clientId))
      .execute();
    const res = await post(
      `${url}/oauth/token`,
      { grant_type: 'password', username: user.username, password: user.password, client_id: publicClient.clientId },
      { encoding: 'urlencoded' },
    );
    t.equal(res.status, 400);
    t.equal(res.body.error, 'unauthorized_client');
    t.notOk(res.body.access_token);
  });

  t.test("scopes are filtered to the client's and to known ones", async (t) => {
    const wider = await passwordGrant(url, client, user.username, user.password, 'profile email openid made-up');
    t.equal(wider.status, 200);
    t.equal(wider.body.scope, 'profile', 'only what the client may have');
    t.notOk(wider.body.id_token, 'no ID token: the client may not have openid');

    const nothingAllowed = await passwordGrant(url, client, user.username, user.password, 'email');
    t.equal(nothingAllowed.status, 400);
    t.equal(nothingAllowed.body.error, 'invalid_scope');

    const omitted = await passwordGrant(url, client, user.username, user.password, '');
    t.equal(omitted.status, 200);
    t.equal(omitted.body.scope, 'profile', "no scope asked: the client's registered scope");
  });

  t.test('openid brings an ID token verifiable against the JWKS', async (t) => {
    const oidcClient = await createClient(app, { scope: 'openid profile' });
    const res = await passwordGrant(url, oidcClient, user.username, user.password, 'openid profile');
    t.equal(res.status, 200);
    t.equal(res.body.scope, 'openid profile');
    t.ok(res.body.refresh_token);
    const jwks = createRemoteJWKSet(new URL(disco.jwks_uri));
    const { payload } = await jwtVerify(res.body.id_token, jwks, { issuer: url, audience: oidcClient.clientId });
    t.equal(payload.sub, String(user.id));
    t.equal(payload.preferred_username, user.username);

    const info = await fetch(disco.userinfo_endpoint, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    t.equal(info.status, 200);
    t.same(await info.json(), { sub: String(user.id), preferred_username: user.username, name: user.username });
  });

  t.test('the tokens are stored: introspection knows them and their person', async (t) => {
    const res = await passwordGrant(url, client, user.username, user.password);
    const intro = await post(
      `${url}/oauth/introspect`,
      { token: res.body.access_token },
      { basicAuth: { id: client.clientId, secret: client.clientSecret } },
    );
    t.equal(intro.status, 200);
    t.match(intro.body, { active: true, client_id: client.clientId, sub: String(user.id), scope: 'profile', token_type: 'Bearer' });
    const rt = await post(
      `${url}/oauth/introspect`,
      { token: res.body.refresh_token },
      { basicAuth: { id: client.clientId, secret: client.clientSecret } },
    );
    t.match(rt.body, { active: true, client_id: client.clientId, sub: String(user.id), scope: 'profile' });
  });
});

t.test('credential guessing: 10 failures per username in 15 minutes, then 429 with Retry-After', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const bystander = await createUser(app);
  const client = await createClient(app);

  for (let i = 1; i <= 10; i++) {
    const res = await passwordGrant(url, client, user.username, `wrong password ${i}`);
    t.equal(res.status, 400, `failure ${i} is an ordinary invalid_grant`);
  }
  const blocked = await passwordGrant(url, client, user.username, user.password);
  t.equal(blocked.status, 429, 'the right password is refused too once the limit is reached');
  t.equal(blocked.body.error, 'invalid_grant');
  t.match(blocked.body.error_description, /too many/);
  const retryAfter = Number(blocked.headers.get('retry-after'));
  t.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After is within the window (${retryAfter})`);
  t.match(blocked.headers.get('content-type'), /application\/json/);
  t.notOk(blocked.body.access_token);

  const differentCase = await passwordGrant(url, client, user.username.toUpperCase(), user.password);
  t.equal(differentCase.status, 429, 'the count is per username, whatever its case');

  const other = await passwordGrant(url, client, bystander.username, bystander.password);
  t.equal(other.status, 200, 'another username is not affected');

  await app.db
    .updateTable('credential_failures')
    .set({ window_start: new Date(Date.now() - 16 * 60 * 1000) })
    .execute();
  const later = await passwordGrant(url, client, user.username, user.password);
  t.equal(later.status, 200, 'once the window has passed, the right password works again');
});
