import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { authorizePath, exchangeCode, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser, PASSWORD, uniqueName } from './helpers/fixtures.js';
import { apiMe } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/**
 * Create account on an authorization's sign-in page: the person who has no account yet creates
 * one there and the same authorization goes on to consent, under the sign-up limit.
 */

t.test('sign-up inside an authorization', async (t) => {
  const { url, app } = await startServer(t, { env: { SIGNUP_RATE_LIMIT: '3' } });
  const client = await createClient(app, {
    client_name: 'Signup client',
    redirect_uris: [REDIRECT_URI],
    scope: 'openid profile',
    grant_types: ['authorization_code', 'refresh_token'],
  });

  t.test('a new account continues the same authorization to consent, then a code', async (t) => {
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId, { state: 'signup-state' }));
    t.match(mainText(login), 'Create account', 'the sign-in page offers Create account');
    t.match(mainText(login), 'continue to Signup client');
    t.notMatch(mainText(login), 'start again', 'nobody is sent away to start again');

    const username = uniqueName('newcomer');
    const consent = await browser.submit(login, 'Create account', { Username: username, Password: PASSWORD });
    t.equal(consent.status, 200);
    t.match(mainText(consent), 'Allow Signup client to use your account?', 'the same authorization asks for consent');
    t.match(mainText(consent), username, 'as the new account');

    const back = landing(await browser.submit(consent, 'Allow'));
    t.equal(back.url.origin + back.url.pathname, REDIRECT_URI);
    t.equal(back.params.get('state'), 'signup-state', 'the state of the authorization that started it');
    const exchanged = await exchangeCode(url, client, back.params.get('code')!);
    t.equal(exchanged.status, 200);
    const me = await apiMe(url, exchanged.body.access_token as string);
    t.same(me.body, { id: (await app.accounts.findByUsername(username))!.id, username });

    const home = await browser.get('/');
    t.ok(browser.hasButton(home, 'Sign out'), 'the console is signed in too: one person, one sign-in');
    t.match(home.html, `Signed in as <strong>${username}</strong>`);
  });

  t.test('a refused account keeps the authorization and says why', async (t) => {
    const taken = await createUser(app);
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));

    const short = await browser.submit(login, 'Create account', { Username: uniqueName('short'), Password: 'short' });
    t.equal(short.status, 422);
    t.match(mainText(short), 'Password must be at least 8 characters.');
    t.equal(short.url.pathname, `${login.url.pathname}/signup`, 'answered by the same authorization');
    t.match(short.html, `action="${login.url.pathname}/login"`, 'whose sign-in form is still there');

    const twice = await browser.submit(short, 'Create account', { Username: taken.username, Password: PASSWORD });
    t.equal(twice.status, 422);
    t.match(mainText(twice), 'That username is taken.');
    t.match(twice.html, `value="${taken.username}"`, 'the username is kept in the Create account form');

    const consent = await browser.submit(twice, 'Sign in', { Username: taken.username, Password: taken.password });
    t.match(mainText(consent), 'Allow Signup client to use your account?', 'signing in instead still continues');
  });

  t.test('the sign-up limit applies here as on the home page (429, Retry-After)', async (t) => {
    const browser = new BrowserSession(url);
    // One account above and one per refused case came from this address: the next ones reach the limit.
    let page = await browser.get(authorizePath(client.clientId));
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      page = await browser.submit(page, 'Create account', { Username: uniqueName('burst'), Password: PASSWORD });
      statuses.push(page.status);
      if (page.status === 429) break;
      await browser.submit(await browser.get('/'), 'Sign out');
      page = await browser.get(authorizePath(client.clientId));
    }
    t.equal(statuses.at(-1), 429, `refused once the limit is reached (${statuses.join(', ')})`);
    t.match(page.headers.get('retry-after') ?? '', /^\d+$/, 'with Retry-After');
    t.match(mainText(page), 'Too many accounts were created just now.');
    t.match(page.url.pathname, /^\/interaction\//, 'on the authorization page');
  });

  t.test('without the CSRF token, nothing is created', async (t) => {
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const username = uniqueName('forged');
    const res = await fetch(new URL(`${login.url.pathname}/signup`, url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password: PASSWORD }),
    });
    t.equal(res.status, 403);
    t.equal(await app.accounts.findByUsername(username), undefined);
  });
});
