import t from 'tap';
import { BrowserSession, mainText, type Page } from './helpers/browser-session.js';
import { authorizePath, exchangeCode, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser, PASSWORD } from './helpers/fixtures.js';
import { apiMe, passwordGrant, post } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/** /account over HTTP: Change password, Sessions (Sign out, Sign out everywhere), Delete account. */

const NEW_PASSWORD = 'a new and longer passphrase';

t.test('the account page', async (t) => {
  const { url, app } = await startServer(t);
  const client = await createClient(app, {
    client_name: 'Notes',
    redirect_uris: [REDIRECT_URI],
    scope: 'openid profile',
    grant_types: ['authorization_code', 'password', 'refresh_token'],
  });

  async function signedIn(user: { username: string; password: string }): Promise<BrowserSession> {
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    const after = await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password });
    if (!browser.hasButton(after, 'Sign out')) throw new Error(`sign-in failed: ${mainText(after)}`);
    return browser;
  }

  /** An authorization in this browser: afterwards it has an OpenID Connect session and a remembered grant. */
  async function authorize(browser: BrowserSession, username: string): Promise<Page> {
    let page = await browser.get(authorizePath(client.clientId));
    if (browser.hasButton(page, `Continue as ${username}`)) page = await browser.submit(page, `Continue as ${username}`);
    if (browser.hasButton(page, 'Allow')) page = await browser.submit(page, 'Allow');
    return page;
  }

  const signedOut = async (browser: BrowserSession) => {
    const page = await browser.get('/account');
    return page.url.pathname === '/' && browser.hasButton(page, 'Sign in') && !browser.hasButton(page, 'Sign out');
  };

  t.test('anonymous: sent to the home page; every form needs its CSRF token', async (t) => {
    const anonymous = new BrowserSession(url);
    t.equal((await anonymous.get('/account')).url.pathname, '/');
    const user = await createUser(app);
    const browser = await signedIn(user);
    const page = await browser.get('/account');
    t.equal(page.status, 200);
    t.equal(page.headers.get('cache-control'), 'no-store');
    t.ok(/<a href="\/account">Account<\/a>/.test(page.html), 'the header links to the account page');
    t.ok(/<a href="\/account">Account<\/a>/.test((await browser.get('/')).html), 'on every signed-in page');
    const refused = await browser.submit(
      page,
      'Change password',
      { 'Current password': PASSWORD, 'New password': NEW_PASSWORD },
      { without: ['_csrf'] },
    );
    t.equal(refused.status, 403, 'no CSRF token: refused');
    const crossSite = await browser.submit(page, 'Sign out everywhere', {}, { origin: 'https://evil.example' });
    t.equal(crossSite.status, 403, 'another origin: refused');
    t.notOk(await signedOut(browser), 'still signed in');
    t.equal((await passwordGrant(url, client, user.username, PASSWORD)).status, 200, 'the password is unchanged');
  });

  t.test('Change password: the current one is checked, the other sessions end, this one stays', async (t) => {
    const user = await createUser(app);
    const here = await signedIn(user);
    const elsewhere = await signedIn(user);
    t.ok((await authorize(here, user.username)).leftTo, 'here: an authorization');
    t.ok((await authorize(elsewhere, user.username)).leftTo, 'elsewhere: an authorization');
    const page = await here.get('/account');

    const wrong = await here.submit(page, 'Change password', { 'Current password': 'not my password', 'New password': NEW_PASSWORD });
    t.equal(wrong.status, 401, 'a wrong current password: 401');
    t.match(mainText(wrong), 'The current password is wrong.');
    const short = await here.submit(page, 'Change password', { 'Current password': PASSWORD, 'New password': 'short' });
    t.equal(short.status, 422, 'a new password against the rules: 422');
    t.match(mainText(short), 'Password must be at least 8 characters.');
    t.equal((await passwordGrant(url, client, user.username, PASSWORD)).status, 200, 'neither changed anything');
    t.notOk(await signedOut(elsewhere), 'nor signed anyone out');

    const changed = await here.submit(page, 'Change password', { 'Current password': PASSWORD, 'New password': NEW_PASSWORD });
    t.equal(changed.status, 200);
    t.match(mainText(changed), 'Your password was changed. 1 other session signed out.');
    t.ok(await signedOut(elsewhere), 'the other browser is signed out of the console');
    const again = await elsewhere.get(authorizePath(client.clientId));
    t.notOk(again.leftTo, 'and of its OpenID Connect session: the authorization asks again');
    t.ok(elsewhere.hasButton(again, 'Sign in'));
    t.notOk(await signedOut(here), 'this browser stays signed in');
    t.ok((await here.get(authorizePath(client.clientId))).leftTo, 'with its OpenID Connect session');

    t.equal((await passwordGrant(url, client, user.username, PASSWORD)).status, 400, 'the old password no longer works');
    t.equal((await passwordGrant(url, client, user.username, NEW_PASSWORD)).status, 200, 'the new one does');
    const fresh = new BrowserSession(url);
    const refused = await fresh.submit(await fresh.get('/'), 'Sign in', { Username: user.username, Password: PASSWORD });
    t.equal(refused.status, 401, 'nor at the sign-in form');
    t.ok(await signedIn({ username: user.username, password: NEW_PASSWORD }), 'where the new one does');
  });

  t.test('Sessions: each listed, this one marked; Sign out ends one; Sign out everywhere ends all', async (t) => {
    const user = await createUser(app);
    const here = await signedIn(user);
    const elsewhere = await signedIn(user);
    const third = await signedIn(user);
    t.ok((await authorize(third, user.username)).leftTo, 'the third browser authorized a client');
    const page = await here.get('/account');
    const rows = [...page.html.matchAll(/<tr( aria-current="true")?>([\s\S]*?)<\/tr>/g)].slice(1);
    t.equal(rows.length, 3, 'three sessions');
    t.equal(rows.filter((row) => row[1]).length, 1, 'one is this browser');
    t.match(mainText(page), /\(this browser\) 127\.0\.0\.1 \d{4}-\d\d-\d\d \d\d:\d\d UTC \d{4}-\d\d-\d\d \d\d:\d\d UTC Sign out/);
    for (const row of rows) t.match(row[2], /<code>127\.0\.0\.1<\/code>/, 'with its IP address');

    const hashes = rows.filter((row) => !row[1]).map((row) => /name="session" value="([0-9a-f]{64})"/.exec(row[2]!)![1]!);
    // Which row is whose is not shown to the test: end the other two one at a time and see who is signed out.
    const first = await here.post('/account/sessions/end', { session: hashes[0]!, _csrf: here.csrf(page) });
    t.equal(first.status, 200);
    t.match(mainText(first), 'That session was signed out.');
    const out = [await signedOut(elsewhere), await signedOut(third)];
    t.same(out.sort(), [false, true], 'exactly one of the other browsers is signed out');
    t.notOk(await signedOut(here), 'not this one');
    const gone = await here.post('/account/sessions/end', { session: hashes[0]!, _csrf: here.csrf(page) });
    t.equal(gone.status, 404, 'an ended session cannot be ended again');
    const stranger = await signedIn(await createUser(app));
    const notMine = await stranger.post('/account/sessions/end', {
      session: hashes[1]!,
      _csrf: stranger.csrf(await stranger.get('/account')),
    });
    t.equal(notMine.status, 404, "someone else's session: not found");
    t.same([await signedOut(elsewhere), await signedOut(third)].sort(), [false, true], 'and not ended');

    const everywhere = await here.submit(await here.get('/account'), 'Sign out everywhere');
    t.equal(everywhere.url.pathname, '/', 'back on the home page');
    t.ok(here.hasButton(everywhere, 'Sign in'), 'signed out');
    t.ok(await signedOut(here), 'this browser is signed out');
    t.ok((await signedOut(elsewhere)) && (await signedOut(third)), 'and every other');
    const asks = await third.get(authorizePath(client.clientId));
    t.ok(!asks.leftTo && third.hasButton(asks, 'Sign in'), 'its OpenID Connect sessions ended too');
    t.equal((await app.consoleSessions.listOf(user.id)).length, 0, 'no session is left');
  });

  t.test('Delete account: the password, then a confirmation; everything of the account goes', async (t) => {
    const user = await createUser(app);
    const owned = await createClient(app, { client_name: 'Mine', redirect_uris: [REDIRECT_URI] }, user.id);
    const browser = await signedIn(user);
    const other = await signedIn(user);
    const code = landing(await authorize(browser, user.username)).params.get('code')!;
    const tokens = (await exchangeCode(url, client, code)).body as { access_token: string; refresh_token: string };
    const granted = (await passwordGrant(url, client, user.username, PASSWORD)).body as { access_token: string; refresh_token: string };
    t.equal((await apiMe(url, tokens.access_token)).status, 200, 'the tokens work before');
    const page = await browser.get('/account');

    const wrong = await browser.submit(page, 'Delete account', { 'Current password': 'not my password' });
    t.equal(wrong.status, 401);
    t.match(mainText(wrong), 'The current password is wrong.');
    const confirm = await browser.submit(page, 'Delete account', { 'Current password': PASSWORD });
    t.equal(confirm.status, 200, 'the right password: a confirmation page');
    t.match(mainText(confirm), `Delete the account ${user.username}?`);
    t.match(mainText(confirm), 'Mine', 'naming the clients that go');
    t.equal((await app.accounts.findById(user.id))?.id, user.id, 'nothing is deleted yet');
    const forged = await browser.submit(
      confirm,
      'Yes, delete my account',
      {},
      { extra: { confirmation: 'delete-account:1:x:9999999999.forged' } },
    );
    t.equal(forged.status, 400, 'a confirmation not signed by the server: refused');
    const elsewhere = await other.post('/account/delete/confirm', {
      confirmation: /name="confirmation" value="([^"]+)"/.exec(confirm.html)![1]!,
      _csrf: other.csrf(await other.get('/account')),
    });
    t.equal(elsewhere.status, 400, 'nor from another session of the account');
    t.ok(await app.accounts.findById(user.id), 'still there');

    const done = await browser.submit(confirm, 'Yes, delete my account');
    t.equal(done.status, 200);
    t.match(mainText(done), `The account ${user.username} was deleted`);
    t.ok(browser.hasButton(done, 'Sign in') && !browser.hasButton(done, 'Sign out'), 'signed out, on the home page');
    t.ok(await signedOut(browser), 'this browser is signed out');
    t.ok(await signedOut(other), 'and the other');
    t.equal(await app.accounts.findByUsername(user.username), undefined, 'the account is gone');
    for (const token of [tokens.access_token, granted.access_token]) {
      t.equal((await apiMe(url, token)).status, 401, 'its access tokens are refused at /api/me');
      const introspected = await post(
        `${url}/oauth/introspect`,
        { token },
        { basicAuth: { id: client.clientId, secret: client.clientSecret } },
      );
      t.same(introspected.body, { active: false }, 'and inactive at introspection');
    }
    const refreshed = await post(
      `${url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: granted.refresh_token },
      {
        basicAuth: { id: client.clientId, secret: client.clientSecret },
      },
    );
    t.equal(refreshed.status, 400, 'its refresh tokens too');
    t.equal(await app.clients.get(owned.clientId), undefined, 'its client is gone');
    const rows = await app.db
      .selectFrom('oidc_payloads')
      .select('model')
      .where((eb) => eb(eb.ref('payload', '->>').key('accountId'), '=', String(user.id)))
      .execute();
    t.same(rows, [], 'no row of the provider names the account');
    const again = new BrowserSession(url);
    t.equal(
      (await again.submit(await again.get('/'), 'Sign in', { Username: user.username, Password: PASSWORD })).status,
      401,
      'nobody signs in as it',
    );
  });
});
