import t from 'tap';
import { createClient, createUser } from './helpers/fixtures.js';
import { apiMe, passwordGrant, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

t.test('refresh tokens', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app);
  const auth = { id: client.clientId, secret: client.clientSecret };
  const refresh = (refreshToken: string, fields: Record<string, string> = {}) =>
    token(url, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...fields });
  const introspect = async (value: string) => (await post(`${url}/oauth/introspect`, { token: value }, { basicAuth: auth })).body;

  t.test('are rotated: each use gives a new pair, and the chain goes on', async (t) => {
    const first = (await passwordGrant(url, client, user.username, user.password)).body;
    let current = first.refresh_token;
    for (let i = 1; i <= 3; i++) {
      const res = await refresh(current);
      t.equal(res.status, 200, `rotation ${i}`);
      t.same(Object.keys(res.body), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      t.equal(res.body.scope, 'profile');
      t.not(res.body.refresh_token, current, 'a new refresh token');
      t.equal((await apiMe(url, res.body.access_token)).status, 200);
      t.equal((await introspect(current)).active, false, 'the used one is spent');
      current = res.body.refresh_token;
    }
    t.equal((await apiMe(url, first.access_token)).status, 200, 'earlier access tokens stay valid until they expire');
  });

  t.test('reusing a rotated refresh token revokes the whole grant', async (t) => {
    const first = (await passwordGrant(url, client, user.username, user.password)).body;
    const second = (await refresh(first.refresh_token)).body;
    t.ok(second.refresh_token);

    const replay = await refresh(first.refresh_token);
    t.equal(replay.status, 400);
    t.equal(replay.body.error, 'invalid_grant');
    t.notOk(replay.body.access_token);

    t.equal((await refresh(second.refresh_token)).body.error, 'invalid_grant', 'the newest refresh token of the grant is revoked too');
    t.equal((await apiMe(url, second.access_token)).status, 401, 'the access token issued by the rotation is revoked');
    t.equal((await apiMe(url, first.access_token)).status, 401, 'the first access token is revoked');
    t.equal((await introspect(second.access_token)).active, false);
  });

  t.test('a refresh token works only for its own client', async (t) => {
    const other = await createClient(app);
    const mine = (await passwordGrant(url, client, user.username, user.password)).body;
    const stolen = await token(url, other, { grant_type: 'refresh_token', refresh_token: mine.refresh_token });
    t.equal(stolen.status, 400);
    t.equal(stolen.body.error, 'invalid_grant');
    t.equal((await refresh(mine.refresh_token)).status, 200, 'and stays usable by its client');
  });

  t.test('needs client authentication', async (t) => {
    const mine = (await passwordGrant(url, client, user.username, user.password)).body;
    const res = await post(`${url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: mine.refresh_token });
    t.equal(res.status, 400);
    t.equal(res.body.error, 'invalid_request');
    const wrong = await token(
      url,
      { clientId: client.clientId, clientSecret: 'wrong' },
      { grant_type: 'refresh_token', refresh_token: mine.refresh_token },
    );
    t.equal(wrong.status, 401);
    t.equal(wrong.body.error, 'invalid_client');
  });

  t.test('a scope may be narrowed but never widened', async (t) => {
    const wide = await createClient(app, { scope: 'openid profile' });
    const mine = (await passwordGrant(url, wide, user.username, user.password, 'openid profile')).body;
    const narrower = await token(url, wide, { grant_type: 'refresh_token', refresh_token: mine.refresh_token, scope: 'profile' });
    t.equal(narrower.status, 200);
    t.equal(narrower.body.scope, 'profile');
    t.notOk(narrower.body.id_token, 'no ID token without openid');
    const wider = await token(url, wide, {
      grant_type: 'refresh_token',
      refresh_token: narrower.body.refresh_token,
      scope: 'profile email',
    });
    t.equal(wider.status, 400);
    t.equal(wider.body.error, 'invalid_scope');
  });

  t.test('an unknown or revoked refresh token is invalid_grant', async (t) => {
    t.equal((await refresh('x'.repeat(43))).body.error, 'invalid_grant');
    const mine = (await passwordGrant(url, client, user.username, user.password)).body;
    const revoked = await post(`${url}/oauth/revoke`, { token: mine.refresh_token, token_type_hint: 'refresh_token' }, { basicAuth: auth });
    t.equal(revoked.status, 200);
    t.equal((await refresh(mine.refresh_token)).body.error, 'invalid_grant');
  });

  t.test('a client that may not refresh gets none and cannot use one', async (t) => {
    const noRefresh = await createClient(app, { grant_types: ['authorization_code', 'password'] });
    const mine = (await passwordGrant(url, noRefresh, user.username, user.password)).body;
    t.notOk(mine.refresh_token);
    const res = await token(url, noRefresh, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) });
    t.equal(res.status, 400);
    t.notOk(res.body.access_token);
  });
});
