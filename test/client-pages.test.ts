import t from 'tap';
import { BrowserSession, formWithButton, mainText, type Page } from './helpers/browser-session.js';
import { authorizePath, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { createUser, PASSWORD, uniqueName } from './helpers/fixtures.js';
import { token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/** The client registry in the browser: create, list, show, rotate the secret, delete; only one's own. */

/** The rows of the "Client Info" and "Client Metadata" tables: name -> text. */
function tableRows(page: Page): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of page.html.matchAll(/<tr><th scope="row">([^<]*)<\/th><td>([\s\S]*?)<\/td><\/tr>/g)) {
    rows.set(m[1]!, mainText({ ...page, html: `<main>${m[2]}</main>` }));
  }
  return rows;
}

const SEED_FORM = {
  'Client name': 'test',
  'Client URI': 'https://authlib.org/',
  'Redirect URIs': 'https://authlib.org/',
  authorization_code: true,
  implicit: false,
  password: true,
  client_credentials: false,
  refresh_token: false,
  'Response types': 'code',
  Scope: 'profile',
  'Token endpoint auth method': 'client_secret_basic',
};

const SERVICE_FORM = {
  ...SEED_FORM,
  'Client name': 'Service',
  'Redirect URIs': '',
  authorization_code: false,
  password: false,
  client_credentials: true,
  'Response types': '',
};

t.test('client pages', async (t) => {
  const { url, app } = await startServer(t);

  async function signedIn(): Promise<{ browser: BrowserSession; home: Page; user: { id: number; username: string } }> {
    const user = await createUser(app);
    const browser = new BrowserSession(url);
    const home = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: user.password });
    return { browser, home, user };
  }

  async function createThroughForm(browser: BrowserSession, fields: Record<string, string | boolean>) {
    const page = await browser.submit(await browser.get('/'), 'Create client', fields);
    const rows = tableRows(page);
    return { page, rows, clientId: rows.get('client_id')!, clientSecret: rows.get('client_secret')! };
  }

  const clientCredentials = (clientId: string, clientSecret: string) =>
    token(url, { clientId, clientSecret }, { grant_type: 'client_credentials' }, 'urlencoded');

  t.test('the signed-in home: "Your clients" and the Create client form with its labels', async (t) => {
    const { browser, home } = await signedIn();
    t.match(mainText(home), 'Your clients');
    t.match(mainText(home), 'You have not registered a client yet.');
    const form = formWithButton(home.html, 'Create client');
    for (const [label, control] of [
      ['Client name', 'input'],
      ['Client URI', 'input'],
      ['Redirect URIs', 'textarea'],
      ['Response types', 'textarea'],
      ['Scope', 'input'],
      ['Token endpoint auth method', 'select'],
    ]) {
      const id = new RegExp(`<label for="([^"]+)">${label}</label>`).exec(form.body)?.[1];
      t.ok(id, `a label "${label}"`);
      t.match(form.body, new RegExp(`<${control} [^>]*id="${id}"`), `labelling a ${control}`);
    }
    t.match(form.body, /<legend>Grant types<\/legend>/);
    for (const grant of ['authorization_code', 'implicit', 'password', 'client_credentials', 'refresh_token']) {
      t.match(
        form.body,
        new RegExp(`<label for="([^"]+)"><input type="checkbox" id="\\1" name="grant_types" value="${grant}"[^>]*>${grant}</label>`),
        `a checkbox labelled ${grant}`,
      );
    }
    for (const method of ['client_secret_basic', 'client_secret_post', 'none']) t.match(form.body, `<option value="${method}"`);
    t.ok(browser.hasButton(home, 'Sign out'));
  });

  t.test('creating a client shows Client Info (the secret, once) and Client Metadata, like the Authlib example', async (t) => {
    const { browser } = await signedIn();
    const before = Math.floor(Date.now() / 1000);
    const { page, rows, clientId, clientSecret } = await createThroughForm(browser, SEED_FORM);
    t.equal(page.status, 201);
    t.equal(page.headers.get('cache-control'), 'no-store');
    t.match(mainText(page), /Client Info.*Client Metadata/);
    t.match(mainText(page), 'shown only this once');
    t.match(clientId, /^[\w-]{24,}$/);
    t.match(clientSecret, /^[\w-]{48,}$/);
    t.ok(Number(rows.get('client_id_issued_at')) >= before);
    t.equal(rows.get('client_secret_expires_at'), '0');
    t.equal(rows.get('client_name'), 'test');
    t.equal(rows.get('client_uri'), 'https://authlib.org/');
    t.equal(rows.get('grant_types'), "['authorization_code', 'password']");
    t.equal(rows.get('redirect_uris'), "['https://authlib.org/']");
    t.equal(rows.get('response_types'), "['code']");
    t.equal(rows.get('scope'), 'profile');
    t.equal(rows.get('token_endpoint_auth_method'), 'client_secret_basic');

    const passwordGrant = await token(
      url,
      { clientId, clientSecret },
      { grant_type: 'password', username: (await createUser(app)).username, password: PASSWORD, scope: 'profile' },
    );
    t.equal(passwordGrant.status, 200, 'the secret shown works at the token endpoint');

    const home = await browser.get('/');
    t.match(home.html, new RegExp(`<a href="/clients/${clientId}">test</a>`), 'listed under Your clients');
    t.notMatch(home.html, clientSecret);
    const show = await browser.get(`/clients/${clientId}`);
    t.equal(show.status, 200);
    t.equal(tableRows(show).get('client_id'), clientId);
    t.match(tableRows(show).get('client_secret'), /^a secret is set/);
    t.notMatch(show.html, clientSecret, 'the secret is never shown again');
    t.equal(tableRows(show).get('grant_types'), "['authorization_code', 'password']");
  });

  t.test('a public client has no secret and nothing to rotate', async (t) => {
    const { browser } = await signedIn();
    const { rows, clientId } = await createThroughForm(browser, {
      ...SEED_FORM,
      'Redirect URIs': 'http://127.0.0.1:8080/callback',
      password: false,
      refresh_token: true,
      'Token endpoint auth method': 'none',
      Scope: 'openid profile',
    });
    t.match(rows.get('client_secret'), /^none/);
    const show = await browser.get(`/clients/${clientId}`);
    t.notOk(browser.hasButton(show, 'Rotate secret'));
    t.ok(browser.hasButton(show, 'Delete client'));
  });

  t.test('problems are shown on the form, with what was typed kept', async (t) => {
    const { browser } = await signedIn();
    const page = await browser.submit(await browser.get('/'), 'Create client', {
      ...SEED_FORM,
      'Client name': 'Kept <name>',
      'Redirect URIs': 'http://example.com/callback\nhttps://ok.example/cb#frag',
      authorization_code: false,
      implicit: true,
      'Response types': 'code',
      Scope: 'profile bogus',
      'Token endpoint auth method': 'client_secret_post',
    });
    t.equal(page.status, 422);
    const text = mainText(page);
    t.match(text, 'uses http: only loopback hosts');
    t.match(text, 'must not contain a fragment');
    t.match(text, 'The authorization_code grant and the "code" response type go together');
    t.match(text, 'The implicit grant is for public clients');
    t.match(text, 'Unknown scope "bogus"');
    t.match(page.html, 'value="Kept &lt;name&gt;"');
    t.match(page.html, />http:\/\/example\.com\/callback\nhttps:\/\/ok\.example\/cb#frag<\/textarea>/);
    t.match(page.html, /value="implicit" checked>/);
    t.match(page.html, /value="password" checked>/);
    t.notMatch(page.html, /value="authorization_code" checked>/);
    t.match(page.html, /<option value="client_secret_post" selected>/);
    t.match(page.html, 'value="profile bogus"');
    t.equal((await app.clients.listAll()).filter((c) => c.client_name === 'Kept <name>').length, 0, 'nothing was created');
    const fixed = await browser.submit(page, 'Create client', { ...SEED_FORM, 'Client name': 'Kept <name>' });
    t.equal(fixed.status, 201, 'corrected, it goes through');
  });

  t.test('a client the provider itself refuses is a problem on the form, not an error page', async (t) => {
    const { browser } = await signedIn();
    const page = await browser.submit(await browser.get('/'), 'Create client', {
      ...SEED_FORM,
      'Client name': 'Implicit on http',
      'Redirect URIs': 'http://127.0.0.1:8123/callback',
      authorization_code: false,
      password: false,
      refresh_token: false,
      implicit: true,
      'Response types': 'token',
      'Token endpoint auth method': 'none',
    });
    t.equal(page.status, 422);
    t.match(mainText(page), /This client cannot be registered: .*https/);
    t.match(page.html, />http:\/\/127\.0\.0\.1:8123\/callback<\/textarea>/, 'what was typed is kept');
  });

  t.test('rotating the secret shows a new one once; the old one stops working at /oauth/token', async (t) => {
    const { browser } = await signedIn();
    const { clientId, clientSecret: oldSecret } = await createThroughForm(browser, SERVICE_FORM);
    t.equal((await clientCredentials(clientId, oldSecret)).status, 200, 'the first secret works');

    const rotated = await browser.submit(await browser.get(`/clients/${clientId}`), 'Rotate secret');
    t.equal(rotated.status, 200);
    const newSecret = tableRows(rotated).get('client_secret')!;
    t.match(newSecret, /^[\w-]{48,}$/);
    t.not(newSecret, oldSecret);
    t.match(mainText(rotated), 'shown only this once');

    const old = await clientCredentials(clientId, oldSecret);
    t.equal(old.status, 401);
    t.equal(old.body.error, 'invalid_client');
    t.equal((await clientCredentials(clientId, newSecret)).status, 200, 'the new secret works');
    t.notMatch((await browser.get(`/clients/${clientId}`)).html, newSecret, 'and is not shown again');
  });

  t.test('the database holds no client secret in clear', async (t) => {
    const { browser } = await signedIn();
    const seen: string[] = [];
    for (let i = 0; i < 2; i++) seen.push((await createThroughForm(browser, { ...SERVICE_FORM, 'Client name': `svc ${i}` })).clientSecret);
    const { clientId } = await createThroughForm(browser, { ...SERVICE_FORM, 'Client name': 'rotated' });
    seen.push(tableRows(await browser.submit(await browser.get(`/clients/${clientId}`), 'Rotate secret')).get('client_secret')!);
    const rows = await app.db.selectFrom('oidc_payloads').selectAll().execute();
    const dump = JSON.stringify(rows);
    t.ok(
      rows.some((r) => r.model === 'Client'),
      'clients are in oidc_payloads',
    );
    for (const secret of seen) t.notOk(dump.includes(secret), 'the secret is not stored');
    const stored = rows.filter((r) => r.model === 'Client').map((r) => r.payload.client_secret as string | undefined);
    t.ok(
      stored.filter(Boolean).every((s) => /^sha256:[0-9a-f]{64}$/.test(s!)),
      'only SHA-256 hashes',
    );
  });

  t.test("a person never sees, rotates or deletes someone else's client", async (t) => {
    const alice = await signedIn();
    const { clientId, clientSecret } = await createThroughForm(alice.browser, { ...SERVICE_FORM, 'Client name': 'Alice service' });
    const bob = await signedIn();

    t.notMatch(bob.home.html, 'Alice service', "not in Bob's list");
    t.notMatch(bob.home.html, clientId);
    const show = await bob.browser.get(`/clients/${clientId}`);
    t.equal(show.status, 404);
    t.notMatch(show.html, 'Alice service');
    const missing = await bob.browser.get(`/clients/${uniqueName('nosuch')}`);
    t.equal(missing.status, 404, 'the same answer as a client that does not exist');
    t.equal(mainText(missing), mainText(show));

    const csrf = bob.browser.csrf(bob.home);
    t.equal((await bob.browser.post(`/clients/${clientId}/rotate-secret`, { _csrf: csrf })).status, 404);
    t.equal((await clientCredentials(clientId, clientSecret)).status, 200, 'the secret was not rotated');
    t.equal((await bob.browser.post(`/clients/${clientId}/delete`, { _csrf: csrf })).status, 404);
    t.ok(await app.clients.get(clientId), 'the client was not deleted');

    const anonymous = new BrowserSession(url);
    const redirected = await anonymous.get(`/clients/${clientId}`);
    t.equal(redirected.url.pathname, '/', 'anonymous visitors are sent to sign in');
    t.notMatch(redirected.html, 'Alice service');
  });

  t.test('deleting a client ends it and its tokens', async (t) => {
    const { browser } = await signedIn();
    const { clientId, clientSecret } = await createThroughForm(browser, { ...SERVICE_FORM, 'Client name': 'Short-lived' });
    t.equal((await clientCredentials(clientId, clientSecret)).status, 200);
    const noToken = await browser.submit(await browser.get(`/clients/${clientId}`), 'Delete client', {}, { without: ['_csrf'] });
    t.equal(noToken.status, 403, 'not without the CSRF token');
    const crossSite = await browser.submit(
      await browser.get(`/clients/${clientId}`),
      'Delete client',
      {},
      { origin: 'https://evil.example' },
    );
    t.equal(crossSite.status, 403, 'nor from another site');
    t.ok(await app.clients.get(clientId));

    const home = await browser.submit(await browser.get(`/clients/${clientId}`), 'Delete client');
    t.equal(home.url.pathname, '/');
    t.notMatch(home.html, 'Short-lived');
    t.equal((await browser.get(`/clients/${clientId}`)).status, 404);
    t.equal((await clientCredentials(clientId, clientSecret)).status, 401, 'its secret no longer works');
  });

  t.test('markup in a client name is shown escaped on every page', async (t) => {
    const name = `<script>alert("x")</script> & <b>co</b>`;
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;';
    const { browser, user } = await signedIn();
    const { page: created, clientId } = await createThroughForm(browser, {
      ...SEED_FORM,
      'Client name': name,
      'Redirect URIs': REDIRECT_URI,
      Scope: 'openid profile',
    });
    const pages: [string, Page][] = [
      ['result page', created],
      ['home list', await browser.get('/')],
      ['client page', await browser.get(`/clients/${clientId}`)],
    ];
    const fresh = new BrowserSession(url);
    const login = await fresh.get(authorizePath(clientId));
    pages.push(['login prompt', login]);
    const consent = await fresh.submit(login, 'Sign in', { Username: user.username, Password: PASSWORD });
    pages.push(['consent prompt', consent]);
    landing(await fresh.submit(consent, 'Allow'));
    pages.push(['connected apps', await fresh.get('/connected-apps')]);
    for (const [where, page] of pages) {
      t.match(page.html, escaped, `${where}: escaped`);
      t.notMatch(page.html, '<script>', `${where}: no live markup`);
      t.notMatch(page.html, '<b>co</b>', `${where}: no live markup`);
    }
  });
});
