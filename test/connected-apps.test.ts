import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { authorizePath, exchangeCode, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { apiMe, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/** /connected-apps: the clients a person allowed, and Revoke, which ends that access at once. */

t.test('connected apps', async (t) => {
  const { url, app } = await startServer(t);
  const codeClient = (name: string) =>
    createClient(app, {
      client_name: name,
      client_uri: 'https://app.example/',
      redirect_uris: [REDIRECT_URI],
      scope: 'openid profile',
      grant_types: ['authorization_code', 'refresh_token'],
    });

  /** A person who signs in through an authorization of `client`, allows it, and gets tokens. */
  async function allow(
    browser: BrowserSession,
    client: { clientId: string; clientSecret: string | undefined },
    user: { username: string; password: string },
  ) {
    const login = await browser.get(authorizePath(client.clientId));
    const consent = browser.hasButton(login, 'Sign in')
      ? await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password })
      : login;
    const back = landing(await browser.submit(consent, 'Allow'));
    const tokens = await exchangeCode(url, client, back.params.get('code')!);
    if (tokens.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(tokens.body)}`);
    return tokens.body as { access_token: string; refresh_token: string };
  }

  t.test('lists each allowed client with its scopes and when; Revoke ends its tokens', async (t) => {
    const user = await createUser(app);
    const photos = await codeClient('Photo printer');
    const notes = await codeClient('Notes');
    const browser = new BrowserSession(url);

    const empty = await browser.get('/connected-apps');
    t.equal(empty.url.pathname, '/', 'anonymous: sent to sign in');

    const photoTokens = await allow(browser, photos, user);
    const noteTokens = await allow(browser, notes, user);
    const page = await browser.get('/connected-apps');
    t.equal(page.status, 200);
    t.equal(page.headers.get('cache-control'), 'no-store');
    const text = mainText(page);
    t.match(text, /Notes https:\/\/app\.example\/ openid profile \d{4}-\d\d-\d\d \d\d:\d\d UTC Revoke/);
    t.match(text, /Photo printer https:\/\/app\.example\/ openid profile \d{4}-\d\d-\d\d \d\d:\d\d UTC Revoke/);
    t.ok(browser.hasButton(page, 'Sign out'));

    const revokeForm = [...page.html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].find((m) => m[1]!.includes('Photo printer'))![1]!;
    t.match(revokeForm, `name="client_id" value="${photos.clientId}"`);
    const after = await browser.post('/connected-apps/revoke', { client_id: photos.clientId, _csrf: browser.csrf(page) });
    t.equal(after.url.pathname, '/connected-apps');
    t.notMatch(mainText(after), 'Photo printer');
    t.match(mainText(after), 'Notes', 'the other app keeps its access');

    t.equal((await apiMe(url, photoTokens.access_token)).status, 401, "the revoked app's access token stopped working");
    const refresh = await token(url, photos, { grant_type: 'refresh_token', refresh_token: photoTokens.refresh_token }, 'urlencoded');
    t.equal(refresh.body.error, 'invalid_grant', 'and its refresh token');
    t.equal((await apiMe(url, noteTokens.access_token)).status, 200, "the other app's token still works");

    const again = await browser.get(authorizePath(photos.clientId));
    t.ok(browser.hasButton(again, 'Allow'), 'the next authorization asks for consent again');
  });

  t.test('the Revoke button itself, and its guards', async (t) => {
    const user = await createUser(app);
    const client = await codeClient('Guarded');
    const browser = new BrowserSession(url);
    const tokens = await allow(browser, client, user);
    const page = await browser.get('/connected-apps');

    t.equal((await browser.submit(page, 'Revoke', {}, { without: ['_csrf'] })).status, 403, 'not without the CSRF token');
    t.equal((await browser.submit(page, 'Revoke', {}, { origin: 'https://evil.example' })).status, 403, 'nor from another site');
    t.equal((await apiMe(url, tokens.access_token)).status, 200, 'nothing was revoked');

    const done = await browser.submit(page, 'Revoke');
    t.match(mainText(done), 'No application has access to your account.');
    t.equal((await apiMe(url, tokens.access_token)).status, 401);
  });

  t.test("one person's apps are theirs alone", async (t) => {
    const alice = await createUser(app);
    const bob = await createUser(app);
    const client = await codeClient('Shared app');
    const aliceBrowser = new BrowserSession(url);
    const aliceTokens = await allow(aliceBrowser, client, alice);

    const bobBrowser = new BrowserSession(url);
    await bobBrowser.submit(await bobBrowser.get('/'), 'Sign in', { Username: bob.username, Password: bob.password });
    const bobPage = await bobBrowser.get('/connected-apps');
    t.notMatch(mainText(bobPage), 'Shared app', "not on Bob's page");
    await bobBrowser.post('/connected-apps/revoke', { client_id: client.clientId, _csrf: bobBrowser.csrf(bobPage) });
    t.equal((await apiMe(url, aliceTokens.access_token)).status, 200, "Bob cannot revoke Alice's grant");
    t.match(mainText(await aliceBrowser.get('/connected-apps')), 'Shared app');
  });

  t.test('access given through the password grant is listed and revoked too', async (t) => {
    const user = await createUser(app);
    const client = await createClient(app, {
      client_name: 'Password app',
      grant_types: ['password', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    });
    const issued = await token(url, client, { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' });
    t.equal(issued.status, 200);
    const browser = new BrowserSession(url);
    await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    const apps = await browser.get('/connected-apps');
    t.match(mainText(apps), /Password app .*profile/);
    await browser.submit(apps, 'Revoke');
    t.equal((await apiMe(url, issued.body.access_token)).status, 401);
  });
});
