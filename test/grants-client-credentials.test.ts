import t from 'tap';
import { createClient } from './helpers/fixtures.js';
import { apiMe, discovery, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

t.test('client credentials', async (t) => {
  const { url, app } = await startServer(t);
  const machine = await createClient(app, {
    grant_types: ['client_credentials', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    scope: 'profile',
  });
  const auth = { id: machine.clientId, secret: machine.clientSecret };

  t.ok((await discovery(url)).grant_types_supported.includes('client_credentials'), 'discovery lists it');

  t.test("an opaque token with the client's scope, never a refresh token", async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile' });
    t.equal(res.status, 200);
    t.same(Object.keys(res.body), ['access_token', 'expires_in', 'scope', 'token_type']);
    t.equal(res.body.token_type, 'Bearer');
    t.equal(res.body.scope, 'profile');
    t.notOk(res.body.refresh_token, 'no refresh token even though the client may refresh');
    t.notOk(res.body.access_token.includes('.'), 'opaque, not a JWT');

    const intro = await post(`${url}/oauth/introspect`, { token: res.body.access_token }, { basicAuth: auth });
    t.match(intro.body, { active: true, client_id: machine.clientId, scope: 'profile', token_type: 'Bearer' });
    t.notOk(intro.body.sub, 'no person behind it');
  });

  t.test('a scope the client was not registered for is refused', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile email' });
    t.equal(res.status, 400);
    t.equal(res.body.error, 'invalid_scope');
    t.notOk(res.body.access_token);
  });

  t.test('an unknown scope is dropped, never granted', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile admin' });
    t.equal(res.status, 200);
    t.equal(res.body.scope, 'profile');
    const intro = await post(`${url}/oauth/introspect`, { token: res.body.access_token }, { basicAuth: auth });
    t.equal(intro.body.scope, 'profile', 'the stored token has only the known scope');
  });

  t.test('no scope asked: a token with no scope', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials' });
    t.equal(res.status, 200);
    t.notOk(res.body.scope);
  });

  t.test('a client-credentials token has no person: /api/me says 403 insufficient_scope, not 500', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile' });
    const me = await apiMe(url, res.body.access_token);
    t.equal(me.status, 403);
    t.equal(me.body.error, 'insufficient_scope');
    t.match(me.headers.get('www-authenticate'), /^Bearer .*error="insufficient_scope"/);

    const info = await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${res.body.access_token}` } });
    t.ok(info.status === 401 || info.status === 403, `userinfo refuses it cleanly (${info.status})`);
  });

  t.test('revocation ends it', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile' });
    const revoke = await post(`${url}/oauth/revoke`, { token: res.body.access_token }, { basicAuth: auth });
    t.equal(revoke.status, 200);
    const intro = await post(`${url}/oauth/introspect`, { token: res.body.access_token }, { basicAuth: auth });
    t.same(intro.body, { active: false });
  });

  t.test('a wrong secret is 401 invalid_client', async (t) => {
    const res = await token(url, { clientId: machine.clientId, clientSecret: 'nope' }, { grant_type: 'client_credentials' });
    t.equal(res.status, 401);
    t.equal(res.body.error, 'invalid_client');
  });

  t.test('a client not registered for it is refused', async (t) => {
    const seedClient = await createClient(app);
    const res = await token(url, seedClient, { grant_type: 'client_credentials', scope: 'profile' });
    t.equal(res.status, 400);
    t.notOk(res.body.access_token);
  });
});
