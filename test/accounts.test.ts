import t from 'tap';
import { sql } from 'kysely';
import { BrowserSession, mainText, type Page } from './helpers/browser-session.js';
import { authorizePath, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser, PASSWORD, uniqueName } from './helpers/fixtures.js';
import { startServer } from './helpers/server.js';

/** Accounts in the browser: sign up, sign in, sign out, and the plumbing that guards the forms. */

const setCookie = (page: Page, name: string) => page.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));

async function signUp(browser: BrowserSession, username: string, password = PASSWORD): Promise<Page> {
  const home = await browser.get('/');
  return browser.submit(home, 'Create account', { Username: username, Password: password });
}

t.test('accounts', async (t) => {
  const { url, app } = await startServer(t);

  t.test('the anonymous home page offers Sign in and Create account, labelled', async (t) => {
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    t.equal(home.status, 200);
    t.ok(browser.hasButton(home, 'Sign in'));
    t.ok(browser.hasButton(home, 'Create account'));
    t.notOk(browser.hasButton(home, 'Sign out'));
    t.match(home.html, /<label for="signin-username">Username<\/label>/);
    t.match(home.html, /<label for="signup-password">Password<\/label>/);
    t.notMatch(home.html, /<script|style=|\son[a-z]+=/i, 'no inline script, style or handler');
  });

  t.test('sign up: signed in at once, with a signed HttpOnly SameSite=Lax cookie', async (t) => {
    const browser = new BrowserSession(url);
    const username = uniqueName('newcomer');
    const home = await browser.get('/');
    const res = await browser.jar.fetch(`${url}/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ username, password: PASSWORD, _csrf: browser.csrf(home) }).toString(),
    });
    t.equal(res.status, 303);
    t.equal(res.headers.get('location'), '/');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('latchkey_console='));
    t.ok(cookie, 'a console session cookie');
    t.match(cookie, /; HttpOnly/i);
    t.match(cookie, /; SameSite=Lax/i);
    t.notMatch(cookie, /; Secure/i, 'not Secure on an http issuer');
    t.match(cookie, /^latchkey_console=[\w-]{43}\.[\w+/=%-]{20,};/, 'a random session id (the session is on the server), signed');

    const signedIn = await browser.get('/');
    t.ok(browser.hasButton(signedIn, 'Sign out'));
    t.match(mainText(signedIn), 'Your clients');
    t.match(signedIn.html, `Signed in as <strong>${username}</strong>`);
    t.ok(await app.accounts.findByUsername(username), 'the account exists');
  });

  t.test('sign-up problems are shown on the form, never a 500', async (t) => {
    const taken = await createUser(app, uniqueName('Taken'));
    const cases: [string, string, RegExp][] = [
      ['', PASSWORD, /Username is required/],
      ['   ', PASSWORD, /Username is required/],
      ['x'.repeat(65), PASSWORD, /at most 64 characters/],
      ['tab\there', PASSWORD, /control characters/],
      [uniqueName('short'), 'short', /at least 8 characters/],
      [taken.username.toUpperCase(), PASSWORD, /That username is taken/],
      [`  ${taken.username}  `, PASSWORD, /That username is taken/],
    ];
    for (const [username, password, message] of cases) {
      const browser = new BrowserSession(url);
      const page = await signUp(browser, username, password);
      t.equal(page.status, 422, JSON.stringify(username));
      t.match(mainText(page), message);
      t.notOk(browser.hasButton(page, 'Sign out'), 'not signed in');
      t.ok(browser.hasButton(page, 'Create account'), 'the form is there to try again');
    }
    const kept = await signUp(new BrowserSession(url), 'tab\there');
    t.match(kept.html, 'value="tab\there"', 'what was typed is kept');
    t.equal(
      (
        await app.db
          .selectFrom('accounts')
          .select(sql<number>`count(*)::int`.as('n'))
          .where(sql`lower(username)`, '=', taken.username.toLowerCase())
          .executeTakeFirstOrThrow()
      ).n,
      1,
    );
  });

  t.test('sign in with the right password, and not with a wrong one', async (t) => {
    const user = await createUser(app);
    const browser = new BrowserSession(url);
    const home = await browser.get('/');

    const wrong = await browser.submit(home, 'Sign in', { Username: user.username, Password: 'wrong password' });
    t.equal(wrong.status, 401);
    t.match(mainText(wrong), 'Wrong username or password.');
    t.match(wrong.html, `value="${user.username}"`, 'the username is kept');
    t.notOk(setCookie(wrong, 'latchkey_console'), 'no session');

    const unknown = await browser.submit(wrong, 'Sign in', { Username: uniqueName('ghost'), Password: PASSWORD });
    t.equal(unknown.status, 401);
    t.match(mainText(unknown), 'Wrong username or password.', 'the same answer for an unknown username');

    const empty = await browser.submit(unknown, 'Sign in', { Username: '', Password: '' });
    t.equal(empty.status, 422);

    const right = await browser.submit(empty, 'Sign in', { Username: ` ${user.username.toUpperCase()} `, Password: user.password });
    t.equal(right.status, 200);
    t.equal(right.url.pathname, '/');
    t.ok(browser.hasButton(right, 'Sign out'), 'signed in (usernames are case-insensitive and trimmed)');
    t.match(right.html, `Signed in as <strong>${user.username}</strong>`);
  });

  t.test('signed in, every page has Sign out (error pages too)', async (t) => {
    const user = await createUser(app);
    const client = await createClient(
      app,
      { redirect_uris: [REDIRECT_URI], scope: 'openid profile', grant_types: ['authorization_code'] },
      user.id,
    );
    const browser = new BrowserSession(url);
    await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    const login = await browser.get(authorizePath(client.clientId));
    const consent = await browser.submit(login, `Continue as ${user.username}`);
    const pages: [string, Page][] = [
      ['home', await browser.get('/')],
      ['client page', await browser.get(`/clients/${client.clientId}`)],
      ['connected apps', await browser.get('/connected-apps')],
      ['login prompt', login],
      ['consent prompt', consent],
      ['not found', await browser.get(`/no-such-page-${uniqueName()}`)],
      ['ended interaction', await browser.get(`/interaction/${uniqueName()}`)],
      ['refused form', await browser.post('/clients', { client_name: 'x' })],
    ];
    for (const [where, page] of pages) {
      t.ok(browser.hasButton(page, 'Sign out'), `${where} (${page.status})`);
      t.notMatch(page.html, /<script|style=|\son[a-z]+=/i, `${where}: no inline script, style or handler`);
    }
    t.equal(pages[5]![1].status, 404);
    t.equal(pages[7]![1].status, 403, 'a form without its token is refused');
  });

  t.test('a forged or tampered console cookie signs nobody in', async (t) => {
    const user = await createUser(app);
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password });
    const cookie = browser.jar.get(new URL(url), 'latchkey_console')!;
    const [id, signature] = decodeURIComponent(cookie).split('.');
    const withCookie = (value: string) => {
      const session = new BrowserSession(url);
      session.jar.store(new URL(url), new Response(null, { headers: { 'set-cookie': `latchkey_console=${encodeURIComponent(value)}` } }));
      return session;
    };
    const copy = withCookie(`${id}.${signature}`);
    t.ok(copy.hasButton(await copy.get('/'), 'Sign out'), 'control: the cookie as issued, rebuilt the same way, signs in');
    const other = `${id!.slice(0, -1)}${id!.endsWith('A') ? 'B' : 'A'}`;
    const forged = withCookie(`${other}.${signature}`);
    t.notOk(forged.hasButton(await forged.get('/'), 'Sign out'), 'a changed session id breaks the signature');
    const unsigned = withCookie(id!);
    t.notOk(unsigned.hasButton(await unsigned.get('/'), 'Sign out'), 'an unsigned cookie is ignored');
  });

  t.test('sign out ends the console session and the OpenID Connect session', async (t) => {
    const user = await createUser(app);
    const client = await createClient(app, { redirect_uris: [REDIRECT_URI], scope: 'openid profile', grant_types: ['authorization_code'] });
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const consent = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    landing(await browser.submit(consent, 'Allow'));
    t.ok(browser.jar.get(new URL(url), '_session'), 'an OpenID Connect session cookie');
    const sessions = () =>
      app.db
        .selectFrom('oidc_payloads')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('model', '=', 'Session')
        .where(sql`payload->>'accountId'`, '=', String(user.id))
        .executeTakeFirstOrThrow();
    t.equal((await sessions()).n, 1, 'stored');
    t.ok(landing(await browser.get(authorizePath(client.clientId))).params.get('code'), 'the session spares the login');

    const home = await browser.get('/');
    const out = await browser.submit(home, 'Sign out');
    t.equal(out.url.pathname, '/');
    t.ok(browser.hasButton(out, 'Sign in'), 'the console shows the anonymous home');
    t.notOk(browser.hasButton(out, 'Sign out'));
    t.notOk(browser.jar.get(new URL(url), 'latchkey_console'), 'console cookie cleared');
    t.notOk(browser.jar.get(new URL(url), '_session'), 'OpenID Connect session cookie cleared');
    t.equal((await sessions()).n, 0, 'the stored session is gone');

    const again = await browser.get(authorizePath(client.clientId));
    t.ok(browser.hasButton(again, 'Sign in'), 'the next authorization asks to sign in');
    t.notOk(browser.hasButton(again, `Continue as ${user.username}`));
  });

  t.test('forms without a CSRF token are refused', async (t) => {
    const user = await createUser(app);
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    const signIn = await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password }, { without: ['_csrf'] });
    t.equal(signIn.status, 403);
    t.notOk(setCookie(signIn, 'latchkey_console'));
    const name = uniqueName('nocsrf');
    const signUpPage = await browser.submit(home, 'Create account', { Username: name, Password: PASSWORD }, { without: ['_csrf'] });
    t.equal(signUpPage.status, 403);
    t.notOk(await app.accounts.findByUsername(name), 'no account was created');

    const stranger = new BrowserSession(url);
    const noCookie = await stranger.post('/signin', { username: user.username, password: user.password, _csrf: browser.csrf(home) });
    t.equal(noCookie.status, 403, "another browser's token is refused");

    const signedIn = await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password });
    const out = await browser.submit(signedIn, 'Sign out', {}, { without: ['_csrf'] });
    t.equal(out.status, 403);
    t.ok(browser.hasButton(await browser.get('/'), 'Sign out'), 'still signed in');
  });

  t.test('a cross-site Origin is refused even with a valid token', async (t) => {
    const user = await createUser(app);
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    for (const origin of ['https://evil.example', 'null', url.replace('127.0.0.1', 'localhost')]) {
      const page = await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password }, { origin });
      t.equal(page.status, 403, origin);
      t.match(mainText(page), 'sent from another site');
      t.notOk(setCookie(page, 'latchkey_console'));
    }
    const name = uniqueName('crosssite');
    t.equal(
      (await browser.submit(home, 'Create account', { Username: name, Password: PASSWORD }, { origin: 'https://evil.example' })).status,
      403,
    );
    t.notOk(await app.accounts.findByUsername(name));
    const ok = await browser.submit(home, 'Sign in', { Username: user.username, Password: user.password });
    t.ok(browser.hasButton(ok, 'Sign out'), 'the same form from the same origin works');
    const out = await browser.submit(ok, 'Sign out', {}, { origin: 'https://evil.example' });
    t.equal(out.status, 403);
  });

  t.test('markup in a username is shown escaped', async (t) => {
    const browser = new BrowserSession(url);
    // No spaces: a username may not have any (look-alike names), so the markup uses slashes.
    const username = `<img/src=x/onerror=alert(1)>${uniqueName('')}`;
    const home = await signUp(browser, username);
    t.ok(browser.hasButton(home, 'Sign out'));
    t.notMatch(home.html, '<img/src=x');
    t.match(home.html, '&lt;img/src&#x3D;x/onerror&#x3D;alert(1)&gt;');
  });

  t.test('10 wrong passwords in 15 minutes: 429 with Retry-After, even for the right one', async (t) => {
    const user = await createUser(app);
    const browser = new BrowserSession(url);
    let page = await browser.get('/');
    for (let i = 1; i <= 10; i++) {
      page = await browser.submit(page, 'Sign in', { Username: user.username, Password: `wrong ${i}` });
      t.equal(page.status, 401, `failure ${i}`);
    }
    const limited = await browser.submit(page, 'Sign in', { Username: user.username, Password: user.password });
    t.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    t.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`);
    t.match(mainText(limited), /Too many failed sign-in attempts for this username\. Try again in \d+ minutes?\./);
    t.notOk(browser.hasButton(limited, 'Sign out'));

    const other = await createUser(app);
    const fine = await browser.submit(limited, 'Sign in', { Username: other.username, Password: other.password });
    t.ok(browser.hasButton(fine, 'Sign out'), 'another username is not affected');
  });

  t.test('strict security headers on the pages, none of them on the provider paths', async (t) => {
    const home = await fetch(`${url}/`);
    const csp = home.headers.get('content-security-policy') ?? '';
    t.match(csp, "script-src 'self'");
    t.match(csp, "default-src 'self'");
    t.match(csp, "frame-ancestors 'none'");
    t.notMatch(csp, 'unsafe-inline');
    t.notMatch(csp, 'form-action', 'form-action left open: consent ends at the redirect URI');
    t.equal(home.headers.get('x-content-type-options'), 'nosniff');
    t.equal(home.headers.get('referrer-policy'), 'same-origin', 'so form POSTs from a browser carry their Origin, not null');
    t.notOk(home.headers.get('strict-transport-security'), 'no HSTS on an http issuer');

    const discovery = await fetch(`${url}/.well-known/openid-configuration`);
    t.equal(discovery.status, 200);
    t.notOk(discovery.headers.get('content-security-policy'), 'the provider answers its paths before Fastify hooks');
    t.notOk(discovery.headers.get('x-dns-prefetch-control'));
    t.notOk(discovery.headers.getSetCookie().some((c) => c.startsWith('_csrf=')));
  });
});

t.test('an https issuer makes the cookies Secure and adds HSTS', async (t) => {
  const { url } = await startServer(t, { env: { ISSUER: 'https://login.example' } });
  const browser = new BrowserSession(url);
  const home = await browser.get('/');
  t.match(setCookie(home, '_csrf'), /; Secure/i);
  t.match(home.headers.get('strict-transport-security'), /max-age=\d+/);
  const res = await browser.jar.fetch(`${url}/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://login.example' },
    body: new URLSearchParams({ username: uniqueName('secure'), password: PASSWORD, _csrf: browser.csrf(home) }).toString(),
  });
  t.equal(res.status, 303, "the issuer's origin is the one accepted");
  t.match(
    res.headers.getSetCookie().find((c) => c.startsWith('latchkey_console=')),
    /; Secure/i,
  );
  const local = await browser.post('/signin', { username: 'x', password: 'y', _csrf: browser.csrf(home) }, { origin: url });
  t.equal(local.status, 403, 'the server address is not the issuer origin');
});
