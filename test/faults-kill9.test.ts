import t from 'tap';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { post, token, type Client } from './helpers/oauth.js';
import { spawnServer, withApp } from './helpers/process.js';

// Nothing acknowledged is lost: every token a client received before `kill -9` still works after
// a restart on the same database (PostgreSQL, or the embedded one with its files).
t.test(`kill -9 loses no acknowledged token (${onPostgres ? 'PostgreSQL' : 'embedded'})`, async (t) => {
  const fresh = await freshDatabase(t);
  const { client, user } = await withApp(fresh, async (app) => {
    const user = await createUser(app);
    const issued = await createClient(app, { grant_types: ['password', 'refresh_token', 'client_credentials'], response_types: [] });
    return { user, client: { clientId: issued.clientId, clientSecret: issued.clientSecret } as Client };
  });

  const first = await spawnServer(t, { fresh });
  const accessTokens: string[] = [];
  const refreshTokens: string[] = [];
  // Issued one after another up to the moment of the kill: the last answer is the last acknowledgement.
  for (let i = 0; i < 6; i++) {
    const res = await token(first.url, client, {
      grant_type: 'password',
      username: user.username,
      password: user.password,
      scope: 'profile',
    });
    t.equal(res.status, 200, 'password grant answered');
    accessTokens.push(res.body.access_token);
    refreshTokens.push(res.body.refresh_token);
    const cc = await token(first.url, client, { grant_type: 'client_credentials' });
    t.equal(cc.status, 200, 'client credentials answered');
    accessTokens.push(cc.body.access_token);
  }
  first.child.kill('SIGKILL');
  const exit = await first.exited;
  t.equal(exit.signal, 'SIGKILL', 'the server was killed, not shut down');

  const second = await spawnServer(t, { fresh });
  const auth = { basicAuth: { id: client.clientId, secret: client.clientSecret } };
  for (const accessToken of accessTokens) {
    const res = await post(`${second.url}/oauth/introspect`, { token: accessToken }, auth);
    t.equal(res.status, 200);
    t.equal(res.body.active, true, 'an access token acknowledged before the kill is still active');
  }
  for (const refreshToken of refreshTokens) {
    const res = await post(`${second.url}/oauth/introspect`, { token: refreshToken, token_type_hint: 'refresh_token' }, auth);
    t.equal(res.body.active, true, 'a refresh token acknowledged before the kill is still active');
  }
  const refreshed = await token(second.url, client, { grant_type: 'refresh_token', refresh_token: refreshTokens.at(-1)! });
  t.equal(refreshed.status, 200, 'the last refresh token still refreshes');
  const me = await fetch(`${second.url}/api/me`, { headers: { authorization: `Bearer ${accessTokens.at(-2)}` } });
  t.equal(me.status, 200, 'the last password-grant access token still reaches /api/me');
});
