import t from 'tap';
import { BrowserSession, mainText, type Page } from './helpers/browser-session.js';
import { authorizePath, exchangeCode, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser, PASSWORD } from './helpers/fixtures.js';
import { passwordGrant } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';
import { codeFor, recoveryCodesOf, secretOf } from './helpers/totp.js';

/**
 * Two-factor sign-in over HTTP: the Authenticator app section of /account, the code after the
 * password at the console's sign-in and at an authorization's, replay, recovery codes, limits,
 * the password grant and Turn off.
 */

t.test('two-factor sign-in', async (t) => {
  const { url, app } = await startServer(t);
  const client = await createClient(app, {
    client_name: 'Notes',
    redirect_uris: [REDIRECT_URI],
    scope: 'openid profile',
    grant_types: ['authorization_code', 'password', 'refresh_token'],
  });

  const signedIn = (browser: BrowserSession, page: Page) => browser.hasButton(page, 'Sign out');

  async function signInWithPassword(user: { username: string; password: string }) {
    const browser = new BrowserSession(url);
    const page = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    return { browser, page };
  }

  /** Signed in with the password alone, Set up and Turn on: the secret and the recovery codes. */
  async function withTwoFactor(user: { username: string; password: string }) {
    const { browser, page } = await signInWithPassword(user);
    if (!signedIn(browser, page)) throw new Error(`sign-in failed: ${mainText(page)}`);
    const setup = await browser.submit(await browser.get('/account'), 'Set up authenticator app');
    const secret = secretOf(setup);
    const on = await browser.submit(setup, 'Turn on', { 'Authentication code': codeFor(secret) });
    if (on.status !== 200) throw new Error(`Turn on failed: ${mainText(on)}`);
    return { browser, secret, recoveryCodes: recoveryCodesOf(on), page: on };
  }

  t.test('Set up: QR code and Secret; a wrong code is refused; Turn on shows ten recovery codes once', async (t) => {
    const user = await createUser(app);
    const { browser, page } = await signInWithPassword(user);
    const account = await browser.get('/account');
    t.match(mainText(account), 'Authenticator app');
    t.notOk(browser.hasButton(account, 'Turn off'), 'off to begin with');
    const noCsrf = await browser.submit(account, 'Set up authenticator app', {}, { without: ['_csrf'] });
    t.equal(noCsrf.status, 403, 'no CSRF token: refused');
    const setup = await browser.submit(account, 'Set up authenticator app');
    t.equal(setup.status, 200);
    t.match(setup.html, /<img src="data:image\/png;base64,[^"]+" alt="QR code for your authenticator app"/, 'a QR code image');
    const secret = secretOf(setup);
    t.match(secret, /^[A-Z2-7]{32}$/, 'the Secret as base32 text (160 bits)');

    const wrongCode = codeFor(secret, 5);
    const wrong = await browser.submit(setup, 'Turn on', { 'Authentication code': wrongCode });
    t.equal(wrong.status, 422, 'a wrong code: 422');
    t.match(mainText(wrong), 'That code is not right.');
    t.equal(secretOf(wrong), secret, 'the same setup is shown again');
    const junk = await browser.submit(setup, 'Turn on', { 'Authentication code': 'abc' });
    t.equal(junk.status, 422, 'not a code at all: 422');
    t.match(mainText(junk), 'Enter the 6-digit code');
    t.equal((await passwordGrant(url, client, user.username, PASSWORD)).status, 200, 'not on yet: the password grant works');

    const on = await browser.submit(setup, 'Turn on', { 'Authentication code': codeFor(secret) });
    t.equal(on.status, 200);
    t.match(mainText(on), 'Recovery codes');
    const codes = recoveryCodesOf(on);
    t.equal(codes.length, 10, 'ten recovery codes');
    t.equal(new Set(codes).size, 10, 'all different');
    for (const code of codes) t.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
    t.ok(browser.hasButton(on, 'Turn off'), 'now on');
    const again = await browser.get('/account');
    t.notMatch(mainText(again), 'Recovery codes', 'shown once');
    t.notOk(browser.hasButton(again, 'Set up authenticator app'), 'no second setup while on');
    const twice = await browser.post('/account/totp/setup', { _csrf: browser.csrf(again) });
    t.equal(twice.status, 409, 'Set up while on: 409');
    t.ok(signedIn(browser, page));
    const rows = await app.db.selectFrom('totp_credentials').select('sealed_secret').execute();
    t.notOk(
      rows.some((r) => r.sealed_secret.includes(secret)),
      'the secret is not stored in the clear',
    );
  });

  t.test('console sign-in: the password, then the code; a code is accepted once; recovery codes once each', async (t) => {
    const user = await createUser(app);
    const { browser: first, secret, recoveryCodes } = await withTwoFactor(user);
    t.ok(first, 'set up');

    const { browser, page: asked } = await signInWithPassword(user);
    t.equal(asked.status, 200);
    t.ok(browser.hasButton(asked, 'Verify'), 'asks for the Authentication code');
    t.match(asked.html, /<label for="two-factor-code">Authentication code<\/label>/);
    t.notOk(signedIn(browser, asked), 'the password alone signs nobody in');
    t.equal((await browser.get('/account')).url.pathname, '/', 'no console session yet');

    const empty = await browser.submit(asked, 'Verify', { 'Authentication code': '' });
    t.equal(empty.status, 422);
    const wrong = await browser.submit(asked, 'Verify', { 'Authentication code': '000000' === codeFor(secret, 1) ? '111111' : '000000' });
    t.equal(wrong.status, 401, 'a wrong code: 401');
    t.match(mainText(wrong), 'That code is not right.');
    const code = codeFor(secret, 1);
    const done = await browser.submit(asked, 'Verify', { 'Authentication code': code });
    t.ok(signedIn(browser, done), 'the right code signs in');
    t.equal(done.url.pathname, '/');
    const reused = await browser.submit(asked, 'Verify', { 'Authentication code': code });
    t.equal(reused.status, 400, 'the pending sign-in is used up');

    const second = await signInWithPassword(user);
    const replay = await second.browser.submit(second.page, 'Verify', { 'Authentication code': code });
    t.equal(replay.status, 401, 'the same code on another sign-in: refused (replay)');
    t.notOk(signedIn(second.browser, replay));

    const recovery = recoveryCodes[0]!;
    const viaRecovery = await second.browser.submit(second.page, 'Verify', { 'Authentication code': recovery.toLowerCase() });
    t.ok(signedIn(second.browser, viaRecovery), 'a recovery code signs in (typed in any case)');
    const third = await signInWithPassword(user);
    const recoveryAgain = await third.browser.submit(third.page, 'Verify', { 'Authentication code': recovery });
    t.equal(recoveryAgain.status, 401, 'a recovery code works once');
    const other = await third.browser.submit(third.page, 'Verify', { 'Authentication code': recoveryCodes[1]!.replaceAll('-', ' ') });
    t.ok(signedIn(third.browser, other), 'another one still works');

    const noPending = new BrowserSession(url);
    const home = await noPending.get('/');
    const stray = await noPending.post('/signin/verify', { _csrf: noPending.csrf(home), code: codeFor(secret, 1) });
    t.equal(stray.status, 400, 'no pending sign-in in this browser: 400');
    t.match(mainText(stray), 'This sign-in has expired.');
    t.notOk(signedIn(noPending, stray));
  });

  t.test('the password grant is refused for an account with two-factor on', async (t) => {
    const user = await createUser(app);
    await withTwoFactor(user);
    const refused = await passwordGrant(url, client, user.username, PASSWORD);
    t.equal(refused.status, 400);
    t.equal(refused.body.error, 'invalid_grant');
    t.match(String(refused.body.error_description), /second factor.*browser/);
    t.notOk(refused.body.access_token, 'no token');
    const wrong = await passwordGrant(url, client, user.username, 'not the password');
    t.equal(wrong.body.error, 'invalid_grant');
    t.notMatch(String(wrong.body.error_description), 'second factor', 'a wrong password says nothing of the second factor');
  });

  t.test('an authorization: password, then the code, then consent and a code for the client', async (t) => {
    const user = await createUser(app);
    const { secret } = await withTwoFactor(user);
    const browser = new BrowserSession(url);
    const login = await browser.get(authorizePath(client.clientId));
    const asked = await browser.submit(login, 'Sign in', { Username: user.username, Password: user.password });
    t.equal(asked.status, 200);
    t.ok(browser.hasButton(asked, 'Verify'), 'asks for the Authentication code');
    t.ok(browser.hasButton(asked, 'Cancel'), 'and can be cancelled');
    const wrong = await browser.submit(asked, 'Verify', { 'Authentication code': recoveryCodeLike() });
    t.equal(wrong.status, 401);

    // A pending sign-in of the console is not one of this authorization.
    const elsewhere = new BrowserSession(url);
    const consolePending = await elsewhere.submit(await elsewhere.get('/'), 'Sign in', {
      Username: user.username,
      Password: user.password,
    });
    t.ok(elsewhere.hasButton(consolePending, 'Verify'));
    const other = await elsewhere.get(authorizePath(client.clientId));
    const uid = /\/interaction\/([^/]+)\/login/.exec(other.html)?.[1];
    const crossed = await elsewhere.post(`/interaction/${uid}/verify`, { _csrf: elsewhere.csrf(other), code: codeFor(secret, 1) });
    t.equal(crossed.status, 400, "the console's pending sign-in does not finish an authorization");

    const consent = await browser.submit(asked, 'Verify', { 'Authentication code': codeFor(secret, 1) });
    t.ok(browser.hasButton(consent, 'Allow'), 'consent');
    const back = await browser.submit(consent, 'Allow');
    const code = landing(back).params.get('code');
    t.ok(code, 'a code for the client');
    const exchanged = await exchangeCode(url, client, code!);
    t.equal(exchanged.status, 200);
    const claims = JSON.parse(Buffer.from(String(exchanged.body.id_token).split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    t.same(claims.amr, ['pwd', 'otp', 'mfa'], 'the ID token says both factors were used');
    t.ok(signedIn(browser, await browser.get('/')), 'and the console session began');
  });

  t.test('guessing codes is limited as guessing passwords is', async (t) => {
    const user = await createUser(app);
    const { secret } = await withTwoFactor(user);
    const { browser, page } = await signInWithPassword(user);
    const right = codeFor(secret, 1);
    const wrongCode = right === '123456' ? '654321' : '123456';
    for (let i = 0; i < app.credentialLimiter.maxFailures; i++) {
      const wrong = await browser.submit(page, 'Verify', { 'Authentication code': wrongCode });
      if (wrong.status !== 401) t.fail(`attempt ${i + 1}: ${wrong.status}`);
    }
    const limited = await browser.submit(page, 'Verify', { 'Authentication code': right });
    t.equal(limited.status, 429, 'then even the right code is refused unchecked');
    t.ok(limited.headers.get('retry-after'));
    t.match(mainText(limited), 'Too many failed codes for this account.');
    t.notOk(signedIn(browser, limited));
  });

  t.test('Turn off needs the current password; then the password alone signs in', async (t) => {
    const user = await createUser(app);
    const { browser, page } = await withTwoFactor(user);
    const noPassword = await browser.submit(page, 'Turn off', {});
    t.equal(noPassword.status, 422);
    const wrong = await browser.submit(page, 'Turn off', { 'Current password': 'not my password' });
    t.equal(wrong.status, 401, 'a wrong password: 401');
    t.match(mainText(wrong), 'The current password is wrong.');
    t.ok(browser.hasButton(wrong, 'Turn off'), 'still on');
    const off = await browser.submit(page, 'Turn off', { 'Current password': PASSWORD });
    t.equal(off.status, 200);
    t.match(mainText(off), 'Two-factor sign-in is off.');
    t.ok(browser.hasButton(off, 'Set up authenticator app'));
    const again = await signInWithPassword(user);
    t.ok(signedIn(again.browser, again.page), 'the password alone signs in');
    t.equal((await passwordGrant(url, client, user.username, PASSWORD)).status, 200, 'and the password grant works');
    const codes = await app.db.selectFrom('recovery_codes').select('code_hash').where('account_id', '=', user.id).execute();
    t.equal(codes.length, 0, 'its recovery codes are gone');
    const secrets = await app.db.selectFrom('totp_credentials').select('account_id').where('account_id', '=', user.id).execute();
    t.equal(secrets.length, 0, 'and its secret');
  });
});

/** Something shaped like a recovery code that is none of them. */
function recoveryCodeLike(): string {
  return 'AAAA-BBBB-CCCC-DDDD';
}
