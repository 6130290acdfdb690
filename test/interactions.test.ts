import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { authorizePath, exchangeCode, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser, uniqueName } from './helpers/fixtures.js';
import { apiMe, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/**
 * The login and consent pages of an authorization request, driven over real HTTP as a browser
 * without JavaScript would: authorize -> login -> consent -> Allow -> redirect with a code.
 */

t.test('interactions', async (t) => {
  const { url, app } = await startServer(t);
  const codeClient = (name = 'Test client') =>
    createClient(app, {
      client_name: name,
      redirect_uris: [REDIRECT_URI],
      scope: 'openid profile',
      grant_types: ['authorization_code', 'refresh_token'],
    });

  t.test('the code flow through login and consent, then a token for /api/me', async (t) => {
    const user = await createUser(app);
    const client = await codeClient('Seed & <Sons>');
    const browser = new BrowserSession(url);

    const login = await browser.get(authorizePath(client.clientId, { state: 'state-1' }));
    t.equal(login.status, 200);
    t.match(login.url.pathname, /^\/interaction\/[\w-]+$/, 'the provider sent the browser to the login page');
    t.match(mainText(login), 'Sign in to continue to Seed & <Sons>');
    t.match(login.html, 'Seed &amp; &lt;Sons&gt;', 'the client name is escaped');
    t.equal(login.headers.get('cache-control'), 'no-store');

    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    t.equal(consent.status, 200);
    t.match(consent.url.pathname, /^\/interaction\/[\w-]+$/);
    t.not(consent.url.pathname, login.url.pathname, 'consent is a new interaction');
    const text = mainText(consent);
    t.match(text, 'Allow Seed & <Sons> to use your account?');
    t.match(text, 'https://authlib.org/', 'names the client URI');
    t.match(text, 'openid');
    t.match(text, 'profile');
    t.match(text, `signed in as ${user.username}`);
    t.ok(browser.hasButton(consent, 'Allow'));
    t.ok(browser.hasButton(consent, 'Deny'));

    const back = landing(await browser.submit(consent, 'Allow'));
    t.equal(back.url.origin + back.url.pathname, REDIRECT_URI);
    t.equal(back.params.get('state'), 'state-1');
    const code = back.params.get('code');
    t.ok(code, 'the client got a code');

    const tokens = await exchangeCode(url, client, code!);
    t.equal(tokens.status, 200);
    t.ok(tokens.body.id_token, 'openid asked: an id_token');
    const me = await apiMe(url, tokens.body.access_token);
    t.same(me.body, { id: user.id, username: user.username });

    const home = await browser.get('/');
    t.ok(browser.hasButton(home, 'Sign out'), 'signing in through the interaction signed in to the console too');
    t.match(mainText(home), 'Your clients');
  });

  t.test('wrong password at the login prompt: the form again, with a message', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const again = await browser.submit(login, 'Sign in', { Username: user.username, Password: 'not the password' });
    t.equal(again.status, 401);
    t.equal(again.url.pathname, `${login.url.pathname}/login`);
    t.match(mainText(again), 'Wrong username or password.');
    t.match(again.html, `value="${user.username}"`, 'the username is kept');
    const consent = await browser.submit(again, 'Sign in', { Username: user.username, Password: user.password });
    t.ok(browser.hasButton(consent, 'Allow'), 'the right password then goes on to consent');
  });

  t.test('consent is remembered: same browser, then after signing out and in again', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    landing(await browser.submit(consent, 'Allow'));

    const second = landing(await browser.get(authorizePath(client.clientId)));
    t.ok(second.params.get('code'), 'no login, no consent: straight back with a code');

    const home = await browser.get('/');
    const out = await browser.submit(home, 'Sign out');
    t.ok(browser.hasButton(out, 'Sign in'), 'signed out');

    const loginAgain = await browser.get(authorizePath(client.clientId));
    t.ok(browser.hasButton(loginAgain, 'Sign in'), 'signing out ended the OpenID Connect session: login asked again');
    const third = landing(await browser.submit(loginAgain, 'Sign in', { Username: user.username, Password: user.password }));
    t.ok(third.params.get('code'), 'a new browser session, and still no consent asked');
    t.equal((await exchangeCode(url, client, third.params.get('code')!)).status, 200);

    const fresh = new BrowserSession(url);
    const otherBrowser = await fresh.get(authorizePath(client.clientId));
    const fourth = landing(await fresh.submit(otherBrowser, 'Sign in', { Username: user.username, Password: user.password }));
    t.ok(fourth.params.get('code'), 'another browser altogether: consent still remembered');
  });

  t.test('a scope not granted yet asks again, for it only; prompt=consent always asks', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId, { scope: 'openid' }));
    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    t.notMatch(mainText(consent), 'profile');
    landing(await browser.submit(consent, 'Allow'));

    const more = await browser.get(authorizePath(client.clientId, { scope: 'openid profile' }));
    t.ok(browser.hasButton(more, 'Allow'), 'a new scope needs consent');
    t.match(mainText(more), 'openid (allowed before)');
    t.notMatch(mainText(more), 'profile (allowed before)');
    landing(await browser.submit(more, 'Allow'));

    const forced = await browser.get(authorizePath(client.clientId, { prompt: 'consent' }));
    t.ok(browser.hasButton(forced, 'Allow'), 'prompt=consent asks again');
    const back = landing(await browser.submit(forced, 'Allow'));
    t.ok(back.params.get('code'));
    t.ok(landing(await browser.get(authorizePath(client.clientId))).params.get('code'), 'and without it, no question');
  });

  t.test('Deny sends access_denied to the client, and nothing is remembered', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId, { state: 'no-thanks' }));
    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    const back = landing(await browser.submit(consent, 'Deny'));
    t.equal(back.params.get('error'), 'access_denied');
    t.equal(back.params.get('state'), 'no-thanks');
    t.notOk(back.params.get('code'));
    const again = await browser.get(authorizePath(client.clientId));
    t.ok(browser.hasButton(again, 'Allow'), 'consent is asked again next time');
  });

  t.test('Cancel at the login prompt also answers access_denied', async (t) => {
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const back = landing(await browser.submit(login, 'Cancel'));
    t.equal(back.params.get('error'), 'access_denied');
  });

  t.test('signed in to the console: "Continue as NAME" instead of the password', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password });

    const login = await browser.get(authorizePath(client.clientId));
    t.ok(browser.hasButton(login, `Continue as ${user.username}`));
    t.ok(browser.hasButton(login, 'Sign in'), 'signing in as someone else stays possible');
    const consent = await browser.submit(login, `Continue as ${user.username}`);
    t.match(mainText(consent), `signed in as ${user.username}`);
    const back = landing(await browser.submit(consent, 'Allow'));
    const tokens = await exchangeCode(url, client, back.params.get('code')!);
    t.same((await apiMe(url, tokens.body.access_token)).body, { id: user.id, username: user.username });

    const forced = await browser.get(authorizePath(client.clientId, { prompt: 'login' }));
    t.notOk(browser.hasButton(forced, `Continue as ${user.username}`), 'prompt=login asks for the password');
    t.ok(browser.hasButton(forced, 'Sign in'));
  });

  t.test('failures count across the sign-in forms and the password grant: 429 at the login prompt', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    let page = await browser.get('/');
    for (let i = 1; i <= 5; i++) page = await browser.submit(page, 'Sign in', { Username: user.username, Password: `wrong ${i}` });
    const passwordClient = await createClient(app, { grant_types: ['password'], response_types: [], redirect_uris: [] });
    for (let i = 1; i <= 5; i++) {
      const res = await token(url, passwordClient, { grant_type: 'password', username: user.username, password: `wrong ${i}` });
      t.equal(res.status, 400, `password grant failure ${i}`);
    }
    const login = await browser.get(authorizePath(client.clientId));
    const limited = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    t.equal(limited.status, 429, 'the right password is refused after 10 failures');
    t.ok(Number(limited.headers.get('retry-after')) > 0);
    t.match(mainText(limited), 'Too many failed sign-in attempts for this username.');
    t.ok(browser.hasButton(limited, 'Sign in'), 'still at the login prompt');
    t.notOk(limited.leftTo);
  });

  t.test('expired, unknown or replayed interactions: a friendly page with a way back', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);

    const unknown = await browser.get(`/interaction/${uniqueName('nope')}`);
    t.equal(unknown.status, 400);
    t.match(mainText(unknown), 'This sign-in request has ended');
    t.match(unknown.html, 'href="/"');
    t.notMatch(unknown.html, /at \w+ \(|node_modules|Error:/, 'no stack trace');

    const login = await browser.get(authorizePath(client.clientId));
    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    landing(await browser.submit(consent, 'Allow'));

    const replayed = await browser.submit(consent, 'Allow');
    t.equal(replayed.status, 400, 'the same consent form again');
    t.match(mainText(replayed), 'This sign-in request has ended');
    const replayedLogin = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    t.equal(replayedLogin.status, 400, 'the finished login form again');
    const stale = await browser.get(login.url);
    t.equal(stale.status, 400, 'the finished login page');
  });

  t.test('interaction forms without a CSRF token, or from another site, are refused', async (t) => {
    const user = await createUser(app);
    const client = await codeClient();
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const noToken = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password }, { without: ['_csrf'] });
    t.equal(noToken.status, 403);
    const crossSite = await browser.submit(
      login,
      'Sign in',
      { Username: user.username, Password: user.password },
      { origin: 'https://evil.example' },
    );
    t.equal(crossSite.status, 403, 'a valid token from another origin is refused');
    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    t.ok(browser.hasButton(consent, 'Allow'), 'the same form, sent properly, works');
    const forged = await browser.submit(consent, 'Allow', {}, { extra: { _csrf: 'forged-token' } });
    t.equal(forged.status, 403);
    t.notOk(forged.leftTo, 'no code was issued');
  });
});
