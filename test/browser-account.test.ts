import t from 'tap';
import type { Page } from 'playwright-core';
import { openBrowser, requireChromium, screenshot } from './helpers/chromium.js';
import { createClient, PASSWORD, uniqueName } from './helpers/fixtures.js';
import { createAccount, formWith, signIn } from './helpers/latchkey-pages.js';
import { apiMe, passwordGrant, post } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/** The account page in a real Chromium, through its labels only: two browsers of one person. */

t.setTimeout(300_000);
if (requireChromium(t))
  t.test('the account page in Chromium', async (t) => {
    const server = await startServer(t);
    const base = server.url;
    const username = uniqueName('alice');
    const NEW_PASSWORD = 'a much better passphrase';
    const here = (await openBrowser(t)).page;
    const there = (await openBrowser(t)).page;

    const signedIn = (page: Page) => page.getByRole('button', { name: 'Sign out', exact: true }).first().isVisible();
    async function reload(page: Page) {
      await page.goto(`${base}/`);
      return signedIn(page);
    }
    async function signInThere(password: string) {
      await there.goto(`${base}/`);
      await signIn(there, username, password);
      await there.getByRole('link', { name: 'Account' }).waitFor();
    }
    const rows = (page: Page) =>
      page
        .getByRole('table')
        .getByRole('row')
        .filter({ has: page.getByRole('button', { name: 'Sign out', exact: true }) });

    await createAccount(here, base, username, PASSWORD);
    await signInThere(PASSWORD);
    await here.getByRole('link', { name: 'Account' }).click();
    await here.getByRole('heading', { name: 'Account', exact: true }).waitFor();

    t.test('Sessions lists both browsers; Sign out ends the other one', async (t) => {
      await here.reload();
      t.equal(await rows(here).count(), 2, 'two sessions');
      for (const text of await rows(here).allInnerTexts())
        t.match(text, /Chrome \d+ on Linux[\s\S]*127\.0\.0\.1/, 'each with its browser and IP');
      const current = rows(here).filter({ hasText: '(this browser)' });
      t.equal(await current.count(), 1, 'this browser is marked');
      await screenshot(t, here, 'account');
      await rows(here).filter({ hasNotText: '(this browser)' }).getByRole('button', { name: 'Sign out', exact: true }).click();
      await here.getByRole('status').filter({ hasText: 'That session was signed out.' }).waitFor();
      t.equal(await rows(here).count(), 1, 'one session left');
      t.notOk(await reload(there), 'the other browser is signed out');
      t.ok(await reload(here), 'this one is not');
    });

    t.test('Change password: a wrong current one is refused; the other browser is signed out', async (t) => {
      await signInThere(PASSWORD);
      await here.goto(`${base}/account`);
      const form = formWith(here, 'Change password');
      await form.getByLabel('Current password').fill('not my password');
      await form.getByLabel('New password').fill(NEW_PASSWORD);
      await form.getByRole('button', { name: 'Change password' }).click();
      t.equal(await here.getByRole('alert').innerText(), 'The current password is wrong.');
      t.ok(await reload(there), 'nothing changed');

      await here.goto(`${base}/account`);
      await formWith(here, 'Change password').getByLabel('Current password').fill(PASSWORD);
      await formWith(here, 'Change password').getByLabel('New password').fill(NEW_PASSWORD);
      await formWith(here, 'Change password').getByRole('button', { name: 'Change password' }).click();
      t.match(await here.getByRole('status').innerText(), 'Your password was changed. 1 other session signed out.');
      t.notOk(await reload(there), 'the other browser is signed out');
      t.ok(await reload(here), 'this one stays');
      await there.goto(`${base}/`);
      await signIn(there, username, PASSWORD);
      t.match(await there.getByRole('alert').innerText(), 'Wrong username or password.', 'the old password no longer works');
      await signInThere(NEW_PASSWORD);
      t.ok(await signedIn(there), 'the new one does');
    });

    t.test('Sign out everywhere: both browsers are signed out', async (t) => {
      await here.goto(`${base}/account`);
      await here.getByRole('button', { name: 'Sign out everywhere' }).click();
      await formWith(here, 'Sign in').waitFor();
      t.equal(new URL(here.url()).pathname, '/', 'on the home page');
      t.notOk(await signedIn(here), 'this browser is signed out');
      t.notOk(await reload(there), 'and the other one');
    });

    t.test('Delete account: password, confirmation, and everything of it goes', async (t) => {
      const account = await server.app.accounts.findByUsername(username);
      const client = await createClient(server.app, { client_name: 'Alice app' }, account!.id);
      const tokens = (await passwordGrant(base, client, username, NEW_PASSWORD)).body as { access_token: string };
      t.equal((await apiMe(base, tokens.access_token)).status, 200, 'a token that works before');
      await signIn(here, username, NEW_PASSWORD);
      await here.getByRole('link', { name: 'Account' }).click();
      const form = formWith(here, 'Delete account');
      await form.getByLabel('Current password').fill('not my password');
      await form.getByRole('button', { name: 'Delete account' }).click();
      t.equal(await here.getByRole('alert').innerText(), 'The current password is wrong.');
      await formWith(here, 'Delete account').getByLabel('Current password').fill(NEW_PASSWORD);
      await formWith(here, 'Delete account').getByRole('button', { name: 'Delete account' }).click();
      await here.getByRole('heading', { name: `Delete the account ${username}?` }).waitFor();
      t.match(await here.locator('main').innerText(), 'Alice app', 'the confirmation names its clients');
      t.ok(await server.app.accounts.findById(account!.id), 'nothing is deleted before the confirmation');
      await here.getByRole('button', { name: 'Yes, delete my account' }).click();
      await here
        .getByRole('status')
        .filter({ hasText: `The account ${username} was deleted` })
        .waitFor();
      t.notOk(await signedIn(here), 'signed out on the home page');
      t.equal(await server.app.accounts.findByUsername(username), undefined, 'the account is gone');
      t.equal((await apiMe(base, tokens.access_token)).status, 401, 'its token is refused at /api/me');
      const seed = await createClient(server.app, { client_name: 'Other' });
      const introspected = await post(
        `${base}/oauth/introspect`,
        { token: tokens.access_token },
        { basicAuth: { id: seed.clientId, secret: seed.clientSecret } },
      );
      t.same(introspected.body, { active: false }, 'and inactive at introspection');
      t.equal(await server.app.clients.get(client.clientId), undefined, 'its client is gone');
      await signIn(here, username, NEW_PASSWORD);
      t.match(await here.getByRole('alert').innerText(), 'Wrong username or password.', 'nobody signs in as it');
    });
  });
