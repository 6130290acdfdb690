import { sql } from 'kysely';
import t from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { basic } from './helpers/http.js';
import { startServer } from './helpers/server.js';

/** Revoke ends every grant of an account and client; the password grant keeps one grant per pair. */

t.test('grants of an account and a client', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app, { grant_types: ['password', 'refresh_token'], response_types: [], scope: 'profile' });
  const grantsOfPair = async () =>
    Number(
      (
        await app.db
          .selectFrom('oidc_payloads')
          .select(sql<number>`count(*)::int`.as('n'))
          .where('model', '=', 'Grant')
          .where(sql<string>`payload->>'accountId'`, '=', String(user.id))
          .where(sql<string>`payload->>'clientId'`, '=', client.clientId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const passwordGrant = async () => {
    const res = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password, scope: 'profile' }),
    });
    return { status: res.status, body: (await res.json()) as { access_token: string; refresh_token: string } };
  };

  t.test('the password grant reuses the grant of the pair instead of piling up new ones', async (t) => {
    for (let i = 0; i < 3; i++) t.equal((await passwordGrant()).status, 200);
    t.equal(await grantsOfPair(), 1, 'three sign-ins, one grant');
  });

  t.test('Revoke ends every grant of the pair, however many there are', async (t) => {
    const { body: tokens } = await passwordGrant();
    // Grants made as an older release did, one per sign-in: more than any page of them.
    for (let i = 0; i < 501; i++) {
      await new app.provider.Grant({ accountId: String(user.id), clientId: client.clientId }).save();
    }
    t.equal(await grantsOfPair(), 502);
    const browser = new BrowserSession(url);
    const signedIn = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    const apps = await browser.get('/connected-apps');
    t.ok(browser.hasButton(apps, 'Revoke'), 'the client is listed');
    t.ok(signedIn.status < 400);
    await browser.submit(apps, 'Revoke');
    t.equal(await grantsOfPair(), 0, 'no grant of the pair survives one Revoke');
    const refresh = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    });
    t.equal(refresh.status, 400, 'and the refresh token of the last sign-in is dead');
  });
});
