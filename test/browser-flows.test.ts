import t from 'tap';
import type { Test } from 'tap';
import type { Page } from 'playwright-core';
import { basic, json } from './helpers/http.js';
import { openBrowser, requireChromium, screenshot, type TestBrowser } from './helpers/chromium.js';
import { PASSWORD, uniqueName } from './helpers/fixtures.js';
import {
  authorizeUrl,
  consent,
  continueAsSignedIn,
  createAccount,
  createClient,
  formWith,
  landedAt,
  pkce,
  signOut,
  type ClientForm,
} from './helpers/latchkey-pages.js';
import { startRedirectTarget } from './helpers/redirect-target.js';
import { startServer } from './helpers/server.js';

/**
 * The flows of the Authlib example in a real Chromium, through the page labels README.md names only:
 * a person creates an account, registers a client, authorizes it, and changes their mind.
 */

t.setTimeout(300_000);
if (requireChromium(t))
  t.test('in Chromium', async (t) => {
    const server = await startServer(t);
    const target = await startRedirectTarget(t);
    const base = server.url;

    const codeClient = (overrides: Partial<ClientForm> = {}): ClientForm => ({
      name: 'Seed client',
      uri: 'https://authlib.org/',
      redirectUris: [target.redirectUri],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
      scope: 'openid profile',
      authMethod: 'client_secret_basic',
      ...overrides,
    });

    /** A fresh browser with a new account signed in to the console. */
    async function personWithBrowser(t: Test): Promise<{ browser: TestBrowser; page: Page; username: string }> {
      const browser = await openBrowser(t);
      const username = uniqueName('alice');
      await createAccount(browser.page, base, username, PASSWORD);
      return { browser, page: browser.page, username };
    }

    /** Starts a code flow with PKCE; returns what the test must keep (state, verifier). */
    async function startCodeFlow(page: Page, clientId: string) {
      const { verifier, challenge } = pkce();
      const state = uniqueName('state');
      await page.goto(
        authorizeUrl(base, {
          response_type: 'code',
          client_id: clientId,
          redirect_uri: target.redirectUri,
          scope: 'openid profile',
          state,
          nonce: uniqueName('nonce'),
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
      return { state, verifier };
    }

    async function exchange(clientId: string, clientSecret: string, code: string, verifier: string) {
      const res = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: target.redirectUri, code_verifier: verifier }),
      });
      return { status: res.status, body: await json(res) };
    }

    async function apiMe(accessToken: string) {
      const res = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      return { status: res.status, body: res.status === 200 ? await json(res) : await res.text() };
    }

    function quiet(t: Test, browser: TestBrowser) {
      t.same(browser.dialogs, [], 'no page opened a dialog');
      t.same(browser.problems, [], 'no script error and no Content-Security-Policy violation');
    }

    t.test('create an account, register a client with the form, authorize it with PKCE, Allow, exchange the code', async (t) => {
      const browser = await openBrowser(t);
      const { page } = browser;
      await page.goto(`${base}/`);
      await formWith(page, 'Sign in').waitFor();
      await formWith(page, 'Create account').waitFor();
      await screenshot(t, page, 'home-anonymous');

      const username = uniqueName('alice');
      await createAccount(page, base, username, PASSWORD);
      await page.getByLabel('Client name').waitFor();
      await screenshot(t, page, 'home-signed-in');

      const client = await createClient(page, base, codeClient());
      t.match(client.clientId, /^\S{24,}$/);
      t.match(client.clientSecret, /^[A-Za-z0-9_-]{48,}$/, 'the secret is shown once, on the result page');
      t.match(await page.locator('main').innerText(), 'Client Metadata');
      await screenshot(t, page, 'client-created');

      const { state, verifier } = await startCodeFlow(page, client.clientId);
      await continueAsSignedIn(page, username);
      await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
      const consentText = await page.locator('main').innerText();
      t.match(consentText, 'Seed client', 'the consent page names the client');
      t.match(consentText, /profile/, 'and lists the scopes asked');
      await screenshot(t, page, 'consent');
      await consent(page, 'Allow');

      const landed = await landedAt(page, target.redirectUri);
      const code = landed.searchParams.get('code');
      t.ok(code, 'the redirect URI received a code');
      t.equal(landed.searchParams.get('state'), state, 'and the state sent');
      t.ok(
        target.received.some((url) => url.searchParams.get('code') === code),
        'the client web server saw it',
      );

      const tokens = await exchange(client.clientId, client.clientSecret!, code!, verifier);
      t.equal(tokens.status, 200, 'the code exchanges for tokens');
      t.ok(tokens.body.access_token && tokens.body.id_token && tokens.body.refresh_token);
      const claims = JSON.parse(Buffer.from(tokens.body.id_token.split('.')[1], 'base64url').toString());
      t.same((await apiMe(tokens.body.access_token)).body, { id: Number(claims.sub), username }, '/api/me answers the person who allowed');
      const replay = await exchange(client.clientId, client.clientSecret!, code!, verifier);
      t.equal(replay.status, 400, 'the code works once');
      quiet(t, browser);
    });

    t.test('Deny sends error=access_denied to the client', async (t) => {
      const { browser, page, username } = await personWithBrowser(t);
      const client = await createClient(page, base, codeClient({ name: 'Denied client' }));
      const { state } = await startCodeFlow(page, client.clientId);
      await continueAsSignedIn(page, username);
      await consent(page, 'Deny');
      const landed = await landedAt(page, target.redirectUri);
      t.equal(landed.searchParams.get('error'), 'access_denied');
      t.equal(landed.searchParams.get('state'), state);
      t.notOk(landed.searchParams.get('code'), 'no code');
      quiet(t, browser);
    });

    t.test('implicit: a public client gets the access token in the fragment', async (t) => {
      // oidc-provider accepts only https redirect URIs for implicit web clients: the client's page
      // is answered inside the browser (no network, no DNS), which also shows what reached "its server".
      const redirectUri = 'https://implicit-client.example/callback';
      const { browser, page, username } = await personWithBrowser(t);
      const requested: string[] = [];
      await page.route('https://implicit-client.example/**', (route) => {
        requested.push(route.request().url());
        return route.fulfill({
          status: 200,
          contentType: 'text/html',
          body: '<!doctype html><title>Client</title><h1>Implicit client</h1>',
        });
      });
      const client = await createClient(
        page,
        base,
        codeClient({
          name: 'Implicit client',
          redirectUris: [redirectUri],
          grantTypes: ['implicit'],
          responseTypes: ['token'],
          scope: 'profile',
          authMethod: 'none',
        }),
      );
      t.notOk(client.clientSecret, 'a public client has no secret');
      await page.goto(
        authorizeUrl(base, {
          response_type: 'token',
          client_id: client.clientId,
          redirect_uri: redirectUri,
          scope: 'profile',
          state: 'xyz',
        }),
      );
      await continueAsSignedIn(page, username);
      await consent(page, 'Allow');
      const landed = await landedAt(page, redirectUri);
      const fragment = new URLSearchParams(landed.hash.slice(1));
      t.ok(fragment.get('access_token'), 'the token is in the fragment');
      t.equal(fragment.get('token_type')?.toLowerCase(), 'bearer');
      t.equal(fragment.get('state'), 'xyz');
      t.equal(landed.search, '', 'nothing in the query');
      t.same(requested, [redirectUri], 'the client web server got the bare redirect URI: the token never left the browser');
      t.same((await apiMe(fragment.get('access_token')!)).body.username, username, 'and the token works at /api/me');
      quiet(t, browser);
    });

    t.test('remembered consent: the second authorization goes straight back to the client', async (t) => {
      const { browser, page, username } = await personWithBrowser(t);
      const client = await createClient(page, base, codeClient({ name: 'Remembered client' }));
      await startCodeFlow(page, client.clientId);
      await continueAsSignedIn(page, username);
      await consent(page, 'Allow');
      await landedAt(page, target.redirectUri);

      const visited: string[] = [];
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) visited.push(frame.url());
      });
      const { state } = await startCodeFlow(page, client.clientId);
      const landed = await landedAt(page, target.redirectUri);
      t.ok(landed.searchParams.get('code'), 'a code, at once');
      t.equal(landed.searchParams.get('state'), state);
      t.same(
        visited.filter((url) => url.includes('/interaction/')),
        [],
        'no sign-in or consent page on the way',
      );
      quiet(t, browser);
    });

    t.test('someone without an account creates one on the sign-in page and the authorization goes on', async (t) => {
      const owner = await personWithBrowser(t);
      const client = await createClient(owner.page, base, codeClient({ name: 'Newcomer client' }));
      quiet(t, owner.browser);

      const browser = await openBrowser(t);
      const { page } = browser;
      const { state, verifier } = await startCodeFlow(page, client.clientId);
      const username = uniqueName('newcomer');
      const form = formWith(page, 'Create account');
      await form.waitFor();
      await screenshot(t, page, 'authorization-sign-in');
      await form.getByLabel('Username').fill(username);
      await form.getByLabel('Password').fill(PASSWORD);
      await form.getByRole('button', { name: 'Create account', exact: true }).click();
      await consent(page, 'Allow');
      const landed = await landedAt(page, target.redirectUri);
      t.equal(landed.searchParams.get('state'), state, 'back at the client with the state it sent');
      const exchanged = await exchange(client.clientId, client.clientSecret!, landed.searchParams.get('code')!, verifier);
      t.equal(exchanged.status, 200);
      const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${String(exchanged.body.access_token)}` } });
      t.match(await me.json(), { username }, 'the token is the new account’s');
      quiet(t, browser);
    });

    t.test('Sign out ends the console session and the OpenID Connect session', async (t) => {
      const { browser, page, username } = await personWithBrowser(t);
      const client = await createClient(page, base, codeClient({ name: 'Sign-out client' }));
      await startCodeFlow(page, client.clientId);
      await continueAsSignedIn(page, username);
      await consent(page, 'Allow');
      await landedAt(page, target.redirectUri);

      await page.goto(`${base}/`);
      await signOut(page);
      t.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'signed out of the console');
      await startCodeFlow(page, client.clientId);
      const form = formWith(page, 'Sign in');
      await form.waitFor();
      t.ok(await form.getByLabel('Username').isVisible(), 'the next authorization asks who you are again');
      t.equal(await page.getByRole('button', { name: `Continue as ${username}` }).count(), 0);
      quiet(t, browser);
    });

    t.test('Revoke on the connected apps page ends the tokens of that grant', async (t) => {
      const { browser, page, username } = await personWithBrowser(t);
      const client = await createClient(page, base, codeClient({ name: 'Connected client' }));
      const { verifier } = await startCodeFlow(page, client.clientId);
      await continueAsSignedIn(page, username);
      await consent(page, 'Allow');
      const code = (await landedAt(page, target.redirectUri)).searchParams.get('code')!;
      const tokens = await exchange(client.clientId, client.clientSecret!, code, verifier);
      t.equal((await apiMe(tokens.body.access_token)).status, 200);

      await page.goto(`${base}/`);
      await page.getByRole('link', { name: 'Connected apps' }).click();
      const app = page.getByRole('row').filter({ hasText: 'Connected client' });
      await app.first().waitFor();
      await screenshot(t, page, 'connected-apps');
      await app.getByRole('button', { name: 'Revoke' }).click();
      await page.waitForLoadState();
      t.equal(await page.getByText('Connected client').count(), 0, 'the app is no longer listed');
      const after = await apiMe(tokens.body.access_token);
      t.equal(after.status, 401, 'its access token is refused');
      const refreshed = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token }),
      });
      t.equal(refreshed.status, 400, 'and so is its refresh token');
      quiet(t, browser);
    });

    t.test('a client name with markup is shown as text on every page and never runs', async (t) => {
      const markup = '<img src=x onerror=alert(1)>';
      const { browser, page, username } = await personWithBrowser(t);
      const client = await createClient(page, base, codeClient({ name: markup }));
      const pages: [string, () => Promise<void>][] = [
        ['the result page', async () => {}],
        ['the home page', () => page.goto(`${base}/`).then(() => undefined)],
        [
          'the consent page',
          async () => {
            await startCodeFlow(page, client.clientId);
            await continueAsSignedIn(page, username);
            await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
          },
        ],
        [
          'the connected apps page',
          async () => {
            await consent(page, 'Allow');
            await landedAt(page, target.redirectUri);
            await page.goto(`${base}/connected-apps`);
          },
        ],
      ];
      for (const [name, open] of pages) {
        await open();
        t.ok(await page.getByText(markup).first().isVisible(), `${name} shows the name as text`);
        t.equal(await page.locator('img[src="x"]').count(), 0, `${name} made no element of it`);
      }
      quiet(t, browser);
    });

    t.test('closing the browser leaves no Chromium process behind', async (t) => {
      const browser = await openBrowser(t);
      await browser.page.goto(`${base}/`);
      t.equal(await browser.close(), 0, 'every Chromium process exited when the browser closed');
    });
  });
