import t from 'tap';
import { openBrowser, requireChromium, screenshot } from './helpers/chromium.js';
import { PASSWORD, uniqueName } from './helpers/fixtures.js';
import { consent, continueAsSignedIn, createAccount, createClient } from './helpers/latchkey-pages.js';
import { startPlayground } from './helpers/playground.js';
import { startServer } from './helpers/server.js';

/**
 * The newcomer's path, in Chromium: from a fresh server to a decoded, verified id_token in
 * the playground, using only what the pages say (labels, buttons, links).
 */

t.setTimeout(300_000);
if (requireChromium(t)) {
  t.test('from an account and a client made in the browser to a verified id_token, a refresh and a revocation', async (t) => {
    const server = await startServer(t);
    const playground = await startPlayground(t, server.url);
    const browser = await openBrowser(t);
    const { page } = browser;

    const username = uniqueName('newcomer');
    await createAccount(page, server.url, username, PASSWORD);
    const client = await createClient(page, server.url, {
      name: 'Playground',
      redirectUris: [playground.callback],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
      scope: 'openid profile',
      authMethod: 'client_secret_basic',
    });

    await page.goto(`${playground.url}/`);
    t.ok(await page.getByText(playground.callback).first().isVisible(), 'the playground says which redirect URI to register');
    await screenshot(t, page, 'playground-start');
    await page.getByLabel('Client ID').fill(client.clientId);
    await page.getByLabel('Client secret').fill(client.clientSecret!);
    await page.getByLabel('Token endpoint auth method').selectOption('client_secret_basic');
    await page.getByLabel('Scope').fill('openid profile');
    await page.getByRole('button', { name: 'Connect and authorize' }).click();

    await page.getByRole('heading', { name: '1. Authorization request' }).waitFor();
    const authorizationUrl = new URL((await page.getByRole('link', { name: 'Continue to Latchkey' }).getAttribute('href')) ?? '');
    t.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    await page.getByRole('link', { name: 'Continue to Latchkey' }).click();
    await continueAsSignedIn(page, username);
    t.match(await page.locator('main').innerText(), 'Playground', 'the consent page names the playground');
    await consent(page, 'Allow');

    await page.waitForURL(`${playground.url}/`);
    for (const step of [
      '2. Callback',
      '3. Token response',
      '4. The id_token, decoded and verified',
      '5. The protected resource: /api/me',
    ]) {
      t.ok(await page.getByRole('heading', { name: step }).isVisible(), `shows "${step}"`);
    }
    const text = await page.locator('main').innerText();
    t.match(text, /passed: signature \(RS256, key \S+\) verified with http:\/\/127\.0\.0\.1:\d+\/oauth\/jwks/);
    t.match(text, 'passed: nonce is the one this playground sent');
    t.notMatch(text, 'FAILED', 'every check of the id_token passed');
    t.match(text, /"sub": "\d+"/, 'the decoded claims: sub');
    t.match(text, `"iss": "${server.url}"`, 'the decoded claims: iss');
    t.match(text, `"username": "${username}"`, '/api/me answered');
    t.notMatch(await page.content(), client.clientSecret!, 'the client secret never reached the browser');
    const cookies = await page.evaluate<string>('document.cookie');
    t.notMatch(cookies, 'latchkey_playground', 'the session cookie is out of reach of scripts');
    await screenshot(t, page, 'playground');

    await page.getByRole('button', { name: 'Refresh tokens' }).click();
    await page.getByRole('heading', { name: 'Refresh', exact: true }).waitFor();
    t.notMatch(await page.locator('main').innerText(), 'FAILED');

    await page.getByRole('button', { name: 'Revoke tokens' }).click();
    await page.getByRole('heading', { name: '/api/me after the revocation' }).waitFor();
    const revoked = page.locator('section').filter({ has: page.getByRole('heading', { name: '/api/me after the revocation' }) });
    t.match(await revoked.innerText(), /Status\s+401[\s\S]*invalid_token/, 'the revoked token is refused');

    t.same(browser.dialogs, []);
    t.same(browser.problems, [], 'no script error and no Content-Security-Policy violation');
  });
}
