import t from 'tap';
import type { Locator, Page } from 'playwright-core';
import { openBrowser, requireChromium, screenshot } from './helpers/chromium.js';
import { createClient, PASSWORD, uniqueName } from './helpers/fixtures.js';
import { basic, json } from './helpers/http.js';
import { authorizeUrl, consent, createAccount, formWith, landedAt, pkce, signIn, signOut } from './helpers/latchkey-pages.js';
import { passwordGrant } from './helpers/oauth.js';
import { startRedirectTarget } from './helpers/redirect-target.js';
import { startServer } from './helpers/server.js';
import { codeFor } from './helpers/totp.js';

/** The authenticator app in a real Chromium, through the page labels only: set up, sign in with a code, recovery codes, turn off. */

t.setTimeout(300_000);
if (requireChromium(t))
  t.test('two-factor sign-in in Chromium', async (t) => {
    const server = await startServer(t);
    const target = await startRedirectTarget(t);
    const base = server.url;
    const browser = await openBrowser(t);
    const page = browser.page;
    const username = uniqueName('alice');

    const section = (p: Page): Locator => p.locator('section').filter({ has: p.getByRole('heading', { name: 'Authenticator app' }) });
    const signedIn = (p: Page) => p.getByRole('button', { name: 'Sign out', exact: true }).isVisible();
    let secret = '';
    let recoveryCodes: string[] = [];

    /** The password, then the code; resolves once either page after Verify is shown. */
    async function signInWithCode(code: string) {
      await page.goto(`${base}/`);
      await signIn(page, username, PASSWORD);
      await page.getByLabel('Authentication code').fill(code);
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
      await page.getByRole('button', { name: 'Sign out', exact: true }).or(page.getByRole('alert')).first().waitFor();
    }

    /** Sign out from the home page (the Account page has a Sign out per session too). */
    async function signOutHere() {
      await page.goto(`${base}/`);
      await signOut(page);
    }

    await createAccount(page, base, username, PASSWORD);

    t.test('Set up: the QR code and the Secret; a wrong code is refused; Turn on shows the recovery codes', async (t) => {
      await page.getByRole('link', { name: 'Account' }).click();
      await section(page).getByRole('button', { name: 'Set up authenticator app' }).click();
      const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
      await qr.waitFor();
      t.ok(
        await qr.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth > 100),
        'the QR code image is shown (the CSP allows it)',
      );
      const shown = await section(page).locator('dt', { hasText: 'Secret' }).locator('xpath=following-sibling::dd[1]').innerText();
      secret = shown.replace(/\s/g, '');
      t.match(secret, /^[A-Z2-7]{32}$/, 'the Secret as text');
      await screenshot(t, page, 'totp-setup');

      const wrong = codeFor(secret, 4);
      await section(page).getByLabel('Authentication code').fill(wrong);
      await section(page).getByRole('button', { name: 'Turn on' }).click();
      t.match(await page.getByRole('alert').innerText(), 'That code is not right.');

      await section(page).getByLabel('Authentication code').fill(codeFor(secret));
      await section(page).getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('heading', { name: 'Recovery codes' }).waitFor();
      recoveryCodes = (await section(page).locator('.recovery-codes li').allInnerTexts()).map((c) => c.trim());
      t.equal(recoveryCodes.length, 10, 'ten recovery codes');
      t.ok(await section(page).getByRole('button', { name: 'Turn off' }).isVisible(), 'two-factor is on');
      await screenshot(t, page, 'totp-recovery-codes');
      await page.goto(`${base}/account`);
      t.equal(await page.getByRole('heading', { name: 'Recovery codes' }).count(), 0, 'shown once');
      t.same(browser.problems, [], 'no script error and no Content-Security-Policy violation');
    });

    t.test('sign in: the password, then the Authentication code; a code is accepted once', async (t) => {
      await signOutHere();
      await signIn(page, username, PASSWORD);
      await page.getByLabel('Authentication code').waitFor();
      t.notOk(await signedIn(page), 'the password alone does not sign in');
      await screenshot(t, page, 'totp-sign-in');
      const code = codeFor(secret, 1);
      await page.getByLabel('Authentication code').fill(code);
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
      await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
      t.ok(await signedIn(page), 'the right code signs in');

      await signOutHere();
      await signInWithCode(code);
      t.match(await page.getByRole('alert').innerText(), 'That code is not right.', 'the same code again: refused');
      t.notOk(await signedIn(page));
    });

    t.test('a recovery code signs in once', async (t) => {
      await signInWithCode(recoveryCodes[0]!);
      t.ok(await signedIn(page), 'a recovery code signs in');
      await signOutHere();
      await signInWithCode(recoveryCodes[0]!);
      t.match(await page.getByRole('alert').innerText(), 'That code is not right.', 'not twice');
      t.notOk(await signedIn(page));
    });

    t.test('an authorization: password, code, consent, and a code for the client; the password grant is refused', async (t) => {
      const client = await createClient(server.app, {
        client_name: 'Notes',
        redirect_uris: [target.redirectUri],
        scope: 'openid profile',
        grant_types: ['authorization_code', 'password'],
      });
      const { verifier, challenge } = pkce();
      await page.goto(
        authorizeUrl(base, {
          response_type: 'code',
          client_id: client.clientId,
          redirect_uri: target.redirectUri,
          scope: 'openid profile',
          state: uniqueName('state'),
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
      await signIn(page, username, PASSWORD);
      await page.getByLabel('Authentication code').fill(recoveryCodes[1]!);
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
      await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
      await consent(page, 'Allow');
      const code = (await landedAt(page, target.redirectUri)).searchParams.get('code');
      t.ok(code, 'a code for the client');
      const res = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: code!,
          redirect_uri: target.redirectUri,
          code_verifier: verifier,
        }),
      });
      t.equal(res.status, 200, 'exchanged');
      t.ok((await json(res)).access_token);
      const grant = await passwordGrant(base, client, username, PASSWORD);
      t.equal(grant.status, 400, 'the password grant: 400');
      t.equal(grant.body.error, 'invalid_grant');
    });

    t.test('Turn off needs the Current password', async (t) => {
      await page.goto(`${base}/account`);
      const form = formWith(page, 'Turn off');
      await form.getByLabel('Current password').fill('not my password');
      await form.getByRole('button', { name: 'Turn off' }).click();
      t.equal(await page.getByRole('alert').innerText(), 'The current password is wrong.');
      t.ok(await section(page).getByRole('button', { name: 'Turn off' }).isVisible(), 'still on');
      await formWith(page, 'Turn off').getByLabel('Current password').fill(PASSWORD);
      await formWith(page, 'Turn off').getByRole('button', { name: 'Turn off' }).click();
      await section(page).getByRole('button', { name: 'Set up authenticator app' }).waitFor();
      await signOutHere();
      await signIn(page, username, PASSWORD);
      await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
      t.ok(await signedIn(page), 'the password alone signs in again');
      t.same(browser.problems, [], 'no script error and no Content-Security-Policy violation');
    });
  });
