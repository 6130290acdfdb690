import { randomBytes, scryptSync } from 'node:crypto';
import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { createClient, createUser, uniqueName } from './helpers/fixtures.js';
import { passwordGrant, signInForm } from './helpers/password-attempts.js';
import { startServer } from './helpers/server.js';
import { authorizeUrl, signInAndConsent } from './helpers/grant-flows.js';

/**
 * Sign-in as a penetration test found it and as it must be: guesses counted before the password
 * is checked (so concurrency buys nothing), console sessions on the server (so a copied cookie
 * dies at Sign out and at RP-initiated logout), sign-up limited, and argon2id hashes.
 */

const count = (attempts: Array<{ status: number }>, status: number) => attempts.filter((a) => a.status === status).length;

t.test('parallel guesses: at most 10 checks per username, and a right password inside the burst gets nothing', async (t) => {
  const server = await startServer(t, { env: { TRUST_PROXY: 'true' } });
  const issued = await createClient(server.app, { grant_types: ['password'], response_types: [] });
  const client = { clientId: issued.clientId, clientSecret: issued.clientSecret };

  t.test('at the password grant', async (t) => {
    const user = await createUser(server.app);
    const burst = Array.from({ length: 40 }, (_, i) => passwordGrant(server.url, client, user.username, 'wrong guess', `198.51.100.${i}`));
    burst.push(passwordGrant(server.url, client, user.username, user.password, '198.51.100.99'));
    const statuses = await Promise.all(burst);
    t.ok(count(statuses, 400) <= 10, `at most 10 passwords checked (${count(statuses, 400)} refused as wrong)`);
    t.equal(count(statuses, 400) + count(statuses, 429) + count(statuses, 200), 41, 'every answer is wrong, limited or a token');
    t.equal(statuses.at(-1)?.status, 429, 'the right password, sent last in the burst, is refused unchecked');
    t.equal(count(statuses, 200), 0, 'no token');
  });

  t.test('at the sign-in form', async (t) => {
    const user = await createUser(server.app);
    const burst = Array.from({ length: 40 }, (_, i) => signInForm(server.url, user.username, 'wrong guess', `198.51.101.${i}`));
    burst.push(signInForm(server.url, user.username, user.password, '198.51.101.99'));
    const statuses = await Promise.all(burst);
    t.ok(count(statuses, 401) <= 10, `at most 10 passwords checked (${count(statuses, 401)} refused as wrong)`);
    t.equal(statuses.at(-1)?.status, 429, 'the right password, sent last in the burst, is refused unchecked');
    t.equal(count(statuses, 303), 0, 'nobody signed in');
  });

  t.test('a right password gives its count back: signing in often is not guessing', async (t) => {
    const user = await createUser(server.app);
    for (let i = 0; i < 12; i++)
      t.equal((await passwordGrant(server.url, client, user.username, user.password, '198.51.102.1')).status, 200, `sign-in ${i + 1}`);
  });
});

t.test('console sessions live on the server', async (t) => {
  const server = await startServer(t);
  const user = await createUser(server.app);

  t.test('a copy of the cookie taken before Sign out is worth nothing afterwards', async (t) => {
    const browser = new BrowserSession(server.url);
    const signedIn = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    t.match(mainText(signedIn), /Your clients/, 'signed in');
    const copy = browser.jar.header(new URL(server.url));
    await browser.submit(signedIn, 'Sign out');
    const replay = await fetch(`${server.url}/`, { headers: { cookie: copy, accept: 'text/html' } });
    const html = await replay.text();
    t.notMatch(html, /Your clients/, 'the copied cookie no longer signs anyone in');
    t.notMatch(html, new RegExp(`Signed in as[^<]*${user.username}`), 'nor names anyone');
  });

  t.test('what is stored is no session id', async (t) => {
    const browser = new BrowserSession(server.url);
    await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    const cookie = /latchkey_console=([^;]+)/.exec(browser.jar.header(new URL(server.url)))?.[1];
    t.ok(cookie, 'a console cookie');
    const id = decodeURIComponent(cookie!).split('.')[0]!;
    const rows = await server.app.db.selectFrom('console_sessions').selectAll().execute();
    t.ok(rows.length >= 1, 'a row per session');
    t.notOk(JSON.stringify(rows).includes(id), 'the id in the cookie appears nowhere in the table');
  });

  t.test('RP-initiated logout ends the console session of that browser too', async (t) => {
    const client = await createClient(server.app, { scope: 'openid profile', redirect_uris: ['https://client.example/callback'] });
    const browser = new BrowserSession(server.url);
    const done = await signInAndConsent(
      browser,
      authorizeUrl(server.url, {
        response_type: 'code',
        client_id: client.clientId,
        scope: 'openid profile',
        redirect_uri: 'https://client.example/callback',
      }),
      user,
    );
    t.ok(done.leftTo, 'the authorization finished');
    t.match(mainText(await browser.get('/')), /Your clients/, 'the sign-in at the authorization signed in the console too');
    const confirm = await browser.get('/oauth/logout');
    t.match(mainText(confirm), 'Sign out of', 'the confirmation page');
    // Its buttons sit outside the provider's form (form="op.logoutForm"): post what "Yes, sign me out" sends.
    const xsrf = /name="xsrf" value="([^"]*)"/.exec(confirm.html)?.[1];
    t.match(mainText(await browser.post('/oauth/logout/confirm', { xsrf: xsrf!, logout: 'yes' })), 'You are signed out');
    const home = await browser.get('/');
    t.notMatch(mainText(home), /Your clients/, 'the console session ended with the logout');
    t.ok(browser.hasButton(home, 'Sign in'), 'the home page offers Sign in again');
  });
});

t.test('sign-up is limited per address and for the whole server, before any password is hashed', async (t) => {
  const server = await startServer(t, { env: { TRUST_PROXY: 'true', SIGNUP_RATE_LIMIT: '3' } });
  const signUp = async (ip: string) => {
    const browser = new BrowserSession(server.url);
    const home = await browser.get('/');
    const res = await browser.jar.fetch(new URL('/signup', server.url), {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', origin: server.url, 'x-forwarded-for': ip },
      body: new URLSearchParams({ _csrf: browser.csrf(home), username: uniqueName('su'), password: 'long enough password' }),
    });
    await res.body?.cancel();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  };
  const burst = await Promise.all(Array.from({ length: 12 }, () => signUp('203.0.113.50')));
  t.equal(count(burst, 303), 3, 'three accounts from one address');
  t.equal(count(burst, 429), 9, 'the rest refused with 429');
  t.ok(Number(burst.find((r) => r.status === 429)?.retryAfter) > 0, 'with Retry-After');

  const spread = await Promise.all(Array.from({ length: 40 }, (_, i) => signUp(`203.0.114.${i}`)));
  t.equal(count(spread, 303), 27, 'the whole server: ten times one address (30), three already used');
  const accounts = await server.app.db
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  t.equal(Number(accounts.n), 30, 'exactly as many accounts as were allowed');
});

t.test('passwords are argon2id; an older scrypt hash is replaced at the next sign-in', async (t) => {
  const server = await startServer(t);
  const user = await createUser(server.app);
  const stored = async (username: string) =>
    (await server.app.db.selectFrom('accounts').select('password_hash').where('username', '=', username).executeTakeFirstOrThrow())
      .password_hash;
  t.match(await stored(user.username), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, "new hashes: argon2id at OWASP's m=19 MiB, t=2, p=1");

  const old = await createUser(server.app);
  const salt = randomBytes(16);
  const key = scryptSync(old.password.normalize('NFKC'), salt, 32, { N: 2 ** 13, r: 8, p: 10, maxmem: 64 * 1024 * 1024 });
  const scryptHash = ['scrypt', 2 ** 13, 8, 10, salt.toString('base64url'), key.toString('base64url')].join('$');
  await server.app.db.updateTable('accounts').set({ password_hash: scryptHash }).where('username', '=', old.username).execute();

  t.equal(await server.app.accounts.verify(old.username, 'not the password'), undefined, 'a wrong password against the scrypt hash fails');
  t.equal(await stored(old.username), scryptHash, 'and changes nothing');
  t.ok(await server.app.accounts.verify(old.username, old.password), 'the right one verifies as before');
  t.match(await stored(old.username), /^\$argon2id\$/, 'and the hash is now argon2id');
  t.ok(await server.app.accounts.verify(old.username, old.password), 'which verifies too');
});
