import t from 'tap';
import { BrowserSession, mainText, type Page } from './helpers/browser-session.js';
import { runCli, parseJsonOutput, succeeded } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { createUser } from './helpers/fixtures.js';
import { authorizeUrl, signInAndConsent } from './helpers/grant-flows.js';
import { startServer } from './helpers/server.js';

/** post_logout_redirect_uris: on the Create client form, on the client's page, and at the command line. */

const FORM = {
  'Client name': 'Logs out',
  'Client URI': '',
  'Redirect URIs': 'https://rp.example/callback',
  'Post-logout redirect URIs': 'https://rp.example/signed-out\nhttps://rp.example/bye',
  authorization_code: true,
  implicit: false,
  password: false,
  client_credentials: false,
  refresh_token: false,
  'Response types': 'code',
  Scope: 'openid profile',
  'Token endpoint auth method': 'client_secret_basic',
};

const field = (page: Page, name: string) =>
  new RegExp(`<tr><th scope="row">${name}</th><td>([\\s\\S]*?)</td></tr>`)
    .exec(page.html)?.[1]
    ?.replace(/<[^>]*>/g, '')
    .trim();

t.test('the Create client form registers them, the client page shows them, logout uses them', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const browser = new BrowserSession(url);
  const home = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });

  const refused = await browser.submit(home, 'Create client', { ...FORM, 'Post-logout redirect URIs': 'http://rp.example/bye' });
  t.equal(refused.status, 422, 'an http (not loopback) post-logout redirect URI is refused');
  t.match(mainText(refused), /Post-logout redirect URI/);

  const created = await browser.submit(await browser.get('/'), 'Create client', FORM);
  t.equal(created.status, 201, 'created');
  t.match(
    field(created, 'post_logout_redirect_uris'),
    /https:\/\/rp\.example\/signed-out.*https:\/\/rp\.example\/bye/,
    'shown in Client Metadata',
  );
  const clientId = field(created, 'client_id')!;
  const clientPage = await browser.get(`/clients/${encodeURIComponent(clientId)}`);
  t.match(field(clientPage, 'post_logout_redirect_uris'), /signed-out/, "and on the client's page");

  const person = new BrowserSession(url);
  const done = await signInAndConsent(
    person,
    authorizeUrl(url, { response_type: 'code', client_id: clientId, scope: 'openid profile', redirect_uri: 'https://rp.example/callback' }),
    user,
  );
  t.ok(done.leftTo, 'authorized');
  const confirm = await person.get(
    `/oauth/logout?client_id=${encodeURIComponent(clientId)}&post_logout_redirect_uri=${encodeURIComponent('https://rp.example/bye')}&state=s1`,
  );
  const xsrf = /name="xsrf" value="([^"]*)"/.exec(confirm.html)?.[1];
  const back = await person.post('/oauth/logout/confirm', { xsrf: xsrf!, logout: 'yes' });
  t.equal(back.leftTo?.href, 'https://rp.example/bye?state=s1', 'the logout returns to the registered URI');
});

t.test('latchkey client create --post-logout-redirect-uri (repeatable)', async (t) => {
  const fresh = await freshDatabase(t);
  const args = ['client', 'create', '--name', 'cli', '--redirect-uri', 'https://rp.example/cb', '--grant-type', 'authorization_code'];
  const created = await runCli(fresh, [
    ...args,
    '--response-type',
    'code',
    '--scope',
    'openid',
    '--post-logout-redirect-uri',
    'https://rp.example/out',
    '--post-logout-redirect-uri',
    'http://127.0.0.1:8080/out',
    '--json',
  ]);
  succeeded(t, created, 'client create');
  t.same(parseJsonOutput(created).post_logout_redirect_uris, ['https://rp.example/out', 'http://127.0.0.1:8080/out']);
  const refused = await runCli(fresh, [
    ...args,
    '--response-type',
    'code',
    '--scope',
    'openid',
    '--post-logout-redirect-uri',
    'javascript:alert(1)',
  ]);
  t.not(refused.code, 0, 'a forbidden scheme is refused');
  t.match(refused.stderr, /Post-logout redirect URI/);
});
