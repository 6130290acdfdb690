import t from 'tap';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { CookieJar } from './helpers/cookie-jar.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { signInAndConsent } from './helpers/grant-flows.js';
import { apiMe, discovery, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

t.test('device authorization grant (RFC 8628)', async (t) => {
  const { url, app } = await startServer(t);
  const tv = await createClient(app, {
    client_name: 'Living-room TV',
    grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  });
  const authorize = () =>
    post(
      `${url}/oauth/device/auth`,
      { scope: 'profile' },
      { basicAuth: { id: tv.clientId, secret: tv.clientSecret }, encoding: 'urlencoded' },
    );

  t.test('discovery announces it', async (t) => {
    const disco = await discovery(url);
    t.equal(disco.device_authorization_endpoint, `${url}/oauth/device/auth`);
    t.ok(disco.grant_types_supported.includes(DEVICE_CODE_GRANT));
  });

  t.test('the device gets a code to show, and is told to wait while nobody has approved it', async (t) => {
    const res = await authorize();
    t.equal(res.status, 200);
    t.match(res.body, {
      device_code: String,
      user_code: /^[A-Z]{4}-[A-Z]{4}$/,
      verification_uri: `${url}/oauth/device`,
      verification_uri_complete: `${url}/oauth/device?user_code=${res.body.user_code}`,
      expires_in: Number,
    });
    const poll = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: res.body.device_code });
    t.equal(poll.status, 400);
    t.equal(poll.body.error, 'authorization_pending');
  });

  t.test('a client not registered for it cannot start it', async (t) => {
    const seedClient = await createClient(app);
    const res = await post(
      `${url}/oauth/device/auth`,
      { scope: 'profile' },
      { basicAuth: { id: seedClient.clientId, secret: seedClient.clientSecret }, encoding: 'urlencoded' },
    );
    t.equal(res.status, 400);
    t.notOk(res.body.device_code);
  });

  t.test('the code pages are ours: a labelled input, a CSRF token, errors said plainly', async (t) => {
    const { body } = await authorize();
    const jar = new CookieJar();
    const input = await jar.fetch(`${url}/oauth/device`);
    t.equal(input.status, 200);
    const inputHtml = await input.text();
    t.match(inputHtml, /latchkey\.css/);
    t.match(inputHtml, /<label for="user_code">Code<\/label>/);
    t.match(inputHtml, /id="user_code" name="user_code"/);
    t.notMatch(inputHtml, /onfocus=/, 'no inline handler (our CSP would block it anyway)');
    t.match(input.headers.get('content-security-policy'), /default-src 'self'/);
    const xsrf = hidden(inputHtml, 'xsrf');
    t.ok(xsrf);

    const wrong = await jar.post(`${url}/oauth/device`, { xsrf: xsrf!, user_code: 'BCDF-GHJK' });
    const wrongHtml = await wrong.text();
    t.match(wrongHtml, /role="alert"/, 'an unknown code is said so, on our page');
    t.match(wrongHtml, /latchkey\.css/);

    const forged = await jar.post(`${url}/oauth/device`, { xsrf: 'forged', user_code: body.user_code });
    t.notMatch(await forged.text(), /Connect Living-room TV/, 'a forged CSRF token gets no confirmation');

    const fresh = await jar.fetch(`${url}/oauth/device`);
    const freshXsrf = hidden(await fresh.text(), 'xsrf')!;
    const lowerNoDash = body.user_code.replace('-', '').toLowerCase();
    const confirm = await jar.post(`${url}/oauth/device`, { xsrf: freshXsrf, user_code: lowerNoDash });
    t.equal(confirm.status, 200);
    const confirmHtml = await confirm.text();
    t.match(confirmHtml, /Connect Living-room TV\?/, 'the confirmation names the client');
    t.match(confirmHtml, new RegExp(body.user_code), 'and shows the code to compare, typed any which way');
    t.match(confirmHtml, /Cancel/);
  });

  t.test('a person approves the device: sign in, allow, and the device gets its tokens', async (t) => {
    const user = await createUser(app);
    const { body } = await authorize();
    const browser = new BrowserSession(url);
    const input = await browser.get(body.verification_uri_complete);
    t.equal(input.status, 200);
    const confirm = await browser.post('/oauth/device', { xsrf: hidden(input.html, 'xsrf')!, user_code: body.user_code });
    t.match(mainText(confirm), 'Connect Living-room TV?');
    const login = await browser.post('/oauth/device', {
      xsrf: hidden(confirm.html, 'xsrf')!,
      user_code: hidden(confirm.html, 'user_code')!,
      confirm: 'yes',
    });
    t.ok(browser.hasButton(login, 'Sign in'), 'on to the sign-in page');

    const done = await signInAndConsent(browser, login, user, { consent: 'Allow' });
    t.equal(done.status, 200);
    t.notOk(done.leftTo, 'no redirect anywhere: the device flow ends on our page');
    t.match(mainText(done), 'Device connected');
    t.match(done.html, /latchkey\.css/);

    const tokens = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: body.device_code });
    t.equal(tokens.status, 200);
    t.same(Object.keys(tokens.body), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    t.equal(tokens.body.scope, 'profile');
    t.same((await apiMe(url, tokens.body.access_token)).body, { id: user.id, username: user.username });

    const again = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: body.device_code });
    t.equal(again.status, 400, 'a device code is used once');
    t.equal(again.body.error, 'invalid_grant');
    t.equal((await apiMe(url, tokens.body.access_token)).status, 401, 'and its reuse revokes what it gave');
  });

  t.test('cancelling at the confirmation denies the device', async (t) => {
    const { body } = await authorize();
    const jar = new CookieJar();
    const inputHtml = await (await jar.fetch(`${url}/oauth/device?user_code=${body.user_code}`)).text();
    const confirmPage = await jar.post(`${url}/oauth/device`, { xsrf: hidden(inputHtml, 'xsrf')!, user_code: body.user_code });
    const confirmHtml = await confirmPage.text();
    const cancelled = await jar.post(`${url}/oauth/device`, {
      xsrf: hidden(confirmHtml, 'xsrf')!,
      user_code: hidden(confirmHtml, 'user_code')!,
      confirm: 'yes',
      abort: 'yes',
    });
    t.ok(cancelled.status < 500);
    const poll = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: body.device_code });
    t.equal(poll.status, 400);
    t.equal(poll.body.error, 'access_denied');
  });
});
