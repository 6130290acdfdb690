import t from 'tap';
import { CookieJar } from './helpers/cookie-jar.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { json } from './helpers/http.js';
import { discovery, passwordGrant, post } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

t.test('introspection, revocation, userinfo, logout and metadata', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app, { scope: 'openid profile' });
  const other = await createClient(app, { scope: 'openid profile' });
  const auth = { id: client.clientId, secret: client.clientSecret };
  const otherAuth = { id: other.clientId, secret: other.clientSecret };
  const issue = async (scope = 'openid profile') => (await passwordGrant(url, client, user.username, user.password, scope)).body;

  t.test('introspection (RFC 7662)', async (t) => {
    const tokens = await issue();
    const active = await post(
      `${url}/oauth/introspect`,
      { token: tokens.access_token, token_type_hint: 'access_token' },
      { basicAuth: auth },
    );
    t.equal(active.status, 200);
    t.match(active.body, {
      active: true,
      client_id: client.clientId,
      sub: String(user.id),
      scope: 'openid profile',
      token_type: 'Bearer',
      iss: url,
    });
    t.ok(active.body.exp > Date.now() / 1000, 'exp is in the future');

    const wrongHint = await post(
      `${url}/oauth/introspect`,
      { token: tokens.access_token, token_type_hint: 'refresh_token' },
      { basicAuth: auth },
    );
    t.equal(wrongHint.body.active, true, 'a wrong hint only slows the lookup');

    const byResourceServer = await post(`${url}/oauth/introspect`, { token: tokens.access_token }, { basicAuth: otherAuth });
    t.equal(byResourceServer.body.active, true, 'another confidential client (a resource server) may introspect');

    const unknown = await post(`${url}/oauth/introspect`, { token: 'nope' }, { basicAuth: auth });
    t.same(unknown.body, { active: false });

    const anonymous = await post(`${url}/oauth/introspect`, { token: tokens.access_token });
    t.equal(anonymous.status, 400, 'client authentication is required');
    t.notOk(anonymous.body.active);
    const badSecret = await post(
      `${url}/oauth/introspect`,
      { token: tokens.access_token },
      { basicAuth: { id: client.clientId, secret: 'x' } },
    );
    t.equal(badSecret.status, 401);
  });

  t.test('a public client may introspect only its own tokens', async (t) => {
    const tokens = await issue();
    const publicClient = await createClient(app, {
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const res = await post(`${url}/oauth/introspect`, { token: tokens.access_token, client_id: publicClient.clientId });
    t.equal(res.status, 200);
    t.same(res.body, { active: false });
  });

  t.test('revocation (RFC 7009)', async (t) => {
    const tokens = await issue();
    const byOther = await post(`${url}/oauth/revoke`, { token: tokens.access_token }, { basicAuth: otherAuth });
    t.equal(byOther.status, 400, 'another client may not revoke it');
    t.equal(byOther.body.error, 'invalid_request');
    t.equal((await post(`${url}/oauth/introspect`, { token: tokens.access_token }, { basicAuth: auth })).body.active, true, 'still active');

    const unknown = await post(`${url}/oauth/revoke`, { token: 'never-issued' }, { basicAuth: auth });
    t.equal(unknown.status, 200, 'an unknown token is "revoked" without a fuss');

    const revokeRefresh = await post(
      `${url}/oauth/revoke`,
      { token: tokens.refresh_token, token_type_hint: 'refresh_token' },
      { basicAuth: auth },
    );
    t.equal(revokeRefresh.status, 200);
    t.equal((await post(`${url}/oauth/introspect`, { token: tokens.refresh_token }, { basicAuth: auth })).body.active, false);
    const refreshed = await post(
      `${url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      { basicAuth: auth },
    );
    t.equal(refreshed.body.error, 'invalid_grant');

    const anonymous = await post(`${url}/oauth/revoke`, { token: tokens.access_token });
    t.equal(anonymous.status, 400, 'client authentication is required');
  });

  t.test('userinfo: sub always, preferred_username and name with profile', async (t) => {
    const both = await issue('openid profile');
    const full = await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${both.access_token}` } });
    t.equal(full.status, 200);
    t.same(await json(full), { sub: String(user.id), preferred_username: user.username, name: user.username });

    const openidOnly = await issue('openid');
    const bare = await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${openidOnly.access_token}` } });
    t.same(await json(bare), { sub: String(user.id) });

    const oauthOnly = await issue('profile');
    const refused = await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${oauthOnly.access_token}` } });
    t.equal(refused.status, 403, 'without openid the token is plain OAuth: use /api/me');
    t.match(refused.headers.get('www-authenticate'), /insufficient_scope/);

    const missing = await fetch(`${url}/oauth/userinfo`);
    t.equal(missing.status, 401);
    t.match(missing.headers.get('www-authenticate'), /^Bearer realm=/);
  });

  t.test('RP-initiated logout without a session: confirmed at once, then our signed-out page', async (t) => {
    const jar = new CookieJar();
    const { id_token } = await issue('openid profile');
    const page = await jar.fetch(`${url}/oauth/logout?id_token_hint=${id_token}&state=abc`);
    t.equal(page.status, 200);
    const html = await page.text();
    t.match(html, /name="logout" value="yes"/, 'nobody to ask: the provider posts the confirmation itself');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    const action = /action="([^"]+)"/.exec(html)?.[1];
    t.ok(xsrf, 'the form carries an xsrf token');
    t.equal(action, `${url}/oauth/logout/confirm`);

    const forged = await jar.post(`${url}/oauth/logout/confirm`, { xsrf: 'forged', logout: 'yes' });
    t.equal(forged.status, 400, 'a forged xsrf token is refused');

    const confirm = await jar.post(action!, { xsrf: xsrf!, logout: 'yes' });
    t.equal(confirm.status, 303);
    const done = await jar.fetch(new URL(confirm.headers.get('location')!, url));
    t.equal(done.status, 200);
    t.match(await done.text(), /You are signed out/);
  });

  t.test('logout never redirects to an unregistered post_logout_redirect_uri', async (t) => {
    const { id_token } = await issue('openid profile');
    const res = await fetch(
      `${url}/oauth/logout?id_token_hint=${id_token}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
      {
        redirect: 'manual',
        headers: { accept: 'text/html' },
      },
    );
    t.equal(res.status, 400);
    t.notOk(res.headers.get('location'));
    t.match(await res.text(), /latchkey\.css/, 'an error page of ours');
  });

  t.test('RFC 8414 metadata agrees with discovery', async (t) => {
    const oidc = await discovery(url);
    const oauth = await json(fetch(`${url}/.well-known/oauth-authorization-server`));
    for (const field of [
      'issuer',
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'revocation_endpoint',
      'introspection_endpoint',
      'registration_endpoint',
      'device_authorization_endpoint',
      'grant_types_supported',
      'response_types_supported',
      'response_modes_supported',
      'scopes_supported',
      'code_challenge_methods_supported',
      'token_endpoint_auth_methods_supported',
    ]) {
      t.same(oauth[field], oidc[field], field);
    }
    t.same(oidc.code_challenge_methods_supported, ['S256'], 'PKCE S256 only');
    for (const grant of [
      'authorization_code',
      'implicit',
      'password',
      'client_credentials',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
    ]) {
      t.ok(oidc.grant_types_supported.includes(grant), `grant_types_supported has ${grant}`);
    }
    for (const type of ['code', 'token', 'id_token token']) t.ok(oidc.response_types_supported.includes(type), `response type ${type}`);
    for (const method of ['client_secret_basic', 'client_secret_post', 'none']) {
      t.ok(oidc.token_endpoint_auth_methods_supported.includes(method), `auth method ${method}`);
    }
  });
});
