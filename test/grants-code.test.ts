import t from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { authorizeUrl, codeFor, pkce, returned, signInAndConsent } from './helpers/grant-flows.js';
import { apiMe, discovery, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

t.test('authorization code', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const seedClient = await createClient(app);

  t.test("the Authlib example's request: no redirect_uri, no PKCE, a stray scope at the exchange", async (t) => {
    const browser = new BrowserSession(url);
    const page = await signInAndConsent(
      browser,
      `${url}/oauth/authorize?response_type=code&client_id=${seedClient.clientId}&scope=profile`,
      user,
    );
    const back = returned(page);
    t.equal(`${back.origin}${back.pathname}`, 'https://authlib.org/', 'back at the one registered redirect URI');
    const code = back.searchParams.get('code');
    t.match(code, /^[\w-]{43,}$/);
    t.equal(back.searchParams.get('iss'), url, 'RFC 9207 issuer identification');

    const res = await token(url, seedClient, { grant_type: 'authorization_code', scope: 'profile', code: code! });
    t.equal(res.status, 200);
    t.same(
      Object.keys(res.body),
      ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'],
      "the Authlib example's fields, plus the refresh token the client may use",
    );
    t.equal(res.body.scope, 'profile');
    t.equal(res.body.token_type, 'Bearer');
    t.notOk(res.body.id_token, 'no openid, no ID token');
    t.same((await apiMe(url, res.body.access_token)).body, { id: user.id, username: user.username });

    const refreshed = await token(url, seedClient, { grant_type: 'refresh_token', refresh_token: res.body.refresh_token });
    t.equal(refreshed.status, 200);
    t.not(refreshed.body.refresh_token, res.body.refresh_token, 'rotated');
    t.equal((await apiMe(url, refreshed.body.access_token)).status, 200);
  });

  t.test('a wider stray scope at the exchange grants nothing more', async (t) => {
    const wide = await createClient(app, { scope: 'openid profile' });
    const code = await codeFor(url, user, { client_id: wide.clientId, scope: 'profile' });
    const res = await token(url, wide, { grant_type: 'authorization_code', scope: 'openid profile email', code });
    t.equal(res.status, 200);
    t.equal(res.body.scope, 'profile', 'the scope of the authorization, not of the exchange');
    t.notOk(res.body.id_token);
  });

  t.test('no refresh token for a client that may not refresh', async (t) => {
    const noRefresh = await createClient(app, { grant_types: ['authorization_code'] });
    const code = await codeFor(url, user, { client_id: noRefresh.clientId, scope: 'profile' });
    const res = await token(url, noRefresh, { grant_type: 'authorization_code', code });
    t.equal(res.status, 200);
    t.same(Object.keys(res.body), ['access_token', 'expires_in', 'scope', 'token_type'], "exactly the Authlib example's code response");
  });

  t.test('client_secret_post', async (t) => {
    const postClient = await createClient(app, { token_endpoint_auth_method: 'client_secret_post' });
    const code = await codeFor(url, user, { client_id: postClient.clientId, scope: 'profile' });
    const res = await post(`${url}/oauth/token`, {
      grant_type: 'authorization_code',
      code,
      client_id: postClient.clientId,
      client_secret: postClient.clientSecret!,
    });
    t.equal(res.status, 200);
    t.ok(res.body.access_token);
  });

  t.test('a public client (auth method none) with PKCE S256', async (t) => {
    const spa = await createClient(app, {
      redirect_uris: ['https://spa.example/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const { verifier, challenge } = pkce();
    const code = await codeFor(url, user, {
      client_id: spa.clientId,
      scope: 'profile',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const res = await post(
      `${url}/oauth/token`,
      { grant_type: 'authorization_code', code, client_id: spa.clientId, code_verifier: verifier },
      { encoding: 'urlencoded' },
    );
    t.equal(res.status, 200);
    t.ok(res.body.refresh_token);
    t.equal((await apiMe(url, res.body.access_token)).status, 200);
    const refreshed = await post(
      `${url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: res.body.refresh_token, client_id: spa.clientId },
      { encoding: 'urlencoded' },
    );
    t.equal(refreshed.status, 200, 'and refreshes without a secret');
  });

  t.test('PKCE is optional for a confidential client, and binding once used', async (t) => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(url, user, {
      client_id: seedClient.clientId,
      scope: 'profile',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const res = await token(url, seedClient, { grant_type: 'authorization_code', code, code_verifier: verifier });
    t.equal(res.status, 200);
  });

  t.test('openid profile: an ID token, and userinfo', async (t) => {
    const oidcClient = await createClient(app, { scope: 'openid profile' });
    const code = await codeFor(url, user, { client_id: oidcClient.clientId, scope: 'openid profile', nonce: 'n-1' });
    const res = await token(url, oidcClient, { grant_type: 'authorization_code', code });
    t.equal(res.status, 200);
    t.ok(res.body.id_token);
    const info = await fetch((await discovery(url)).userinfo_endpoint, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    t.same(await info.json(), { sub: String(user.id), preferred_username: user.username, name: user.username });
  });

  t.test('Deny sends access_denied back to the client', async (t) => {
    const notYetAllowed = await createClient(app);
    const browser = new BrowserSession(url);
    const page = await signInAndConsent(
      browser,
      authorizeUrl(url, { response_type: 'code', client_id: notYetAllowed.clientId, scope: 'profile', state: 'st' }),
      user,
      { consent: 'Deny' },
    );
    const back = returned(page);
    t.equal(back.searchParams.get('error'), 'access_denied');
    t.equal(back.searchParams.get('state'), 'st');
    t.notOk(back.searchParams.get('code'));
  });

  t.test('a redirect_uri given at authorization may be left out of the exchange (one registered)', async (t) => {
    const code = await codeFor(url, user, { client_id: seedClient.clientId, scope: 'profile', redirect_uri: 'https://authlib.org/' });
    const res = await token(url, seedClient, { grant_type: 'authorization_code', code });
    t.equal(res.status, 200);
  });
});
