import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { authorizeUrl, signInAndConsent } from './helpers/grant-flows.js';
import { startServer } from './helpers/server.js';

/** The pages oidc-provider renders (device flow, logout, errors) look like every other page: header, and Sign out. */

t.test('provider-rendered pages carry the header and a working Sign out', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);

  const client = await createClient(app, { scope: 'openid profile', redirect_uris: ['https://client.example/callback'] });
  const pages = ['/oauth/device', '/oauth/logout', '/oauth/authorize?client_id=nobody&response_type=code&scope=openid'];
  for (const path of pages) {
    t.test(path, async (t) => {
      const browser = new BrowserSession(url);
      const anonymous = await browser.get(path);
      t.notOk(browser.hasButton(anonymous, 'Sign out'), 'nobody signed in: no Sign out');
      // Signed in through an authorization: the console session and the OpenID Connect session
      // (without the latter, /oauth/logout has nothing to confirm and goes straight on).
      const authorize = authorizeUrl(url, {
        response_type: 'code',
        client_id: client.clientId,
        scope: 'openid profile',
        redirect_uri: 'https://client.example/callback',
      });
      t.ok((await signInAndConsent(browser, authorize, user)).leftTo, 'signed in');
      const page = await browser.get(path);
      if (path === '/oauth/logout') t.match(mainText(page), 'Sign out of', 'the logout confirmation');
      t.match(page.html, new RegExp(`Signed in as <strong>${user.username}</strong>`), 'the header names the person');
      t.ok(browser.hasButton(page, 'Sign out'), 'Sign out is there');
      const after = await browser.submit(page, 'Sign out');
      t.ok(after.status < 400, `Sign out from this page works (${after.status})`);
      t.ok(browser.hasButton(await browser.get('/'), 'Sign in'), 'signed out');
      t.notOk(browser.hasButton(await browser.get(path), 'Sign out'), 'and the page no longer offers Sign out');
    });
  }

  t.test('the CSRF secret is made there when the browser has none', async (t) => {
    const browser = new BrowserSession(url);
    await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    const bare = new BrowserSession(url);
    const session = browser.jar.get(new URL(url), 'latchkey_console')!;
    bare.jar.store(new URL(url), new Response(null, { headers: { 'set-cookie': `latchkey_console=${session}` } }));
    const page = await bare.get('/oauth/device');
    t.ok(bare.jar.get(new URL(url), '_csrf'), 'a CSRF cookie was set');
    t.match(mainText(await bare.submit(page, 'Sign out')), /Sign in|Welcome/, 'and its token signs out');
  });
});
