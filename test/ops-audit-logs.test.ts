import t from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import { authorizePath, exchangeCode, landing, REDIRECT_URI } from './helpers/code-flow.js';
import { freshDatabase } from './helpers/database.js';
import { PASSWORD, uniqueName } from './helpers/fixtures.js';
import { post, token } from './helpers/oauth.js';
import { logLines, spawnServer } from './helpers/process.js';

/**
 * A full flow against a server process, its log captured (at debug level): every security event
 * has its audit line (with the request id), and no password, secret, code, token or cookie value
 * appears anywhere in the log.
 */
/** A value of the result page's "Client Info" table. */
function cell(html: string, name: string): string | undefined {
  return new RegExp(`>${name}</th>\\s*<td>(?:<code>)?([A-Za-z0-9_-]{24,})`).exec(html)?.[1];
}

t.test('audit lines of a full flow, and no secret in the log', async (t) => {
  const fresh = await freshDatabase(t);
  const server = await spawnServer(t, { fresh, env: { LOG_LEVEL: 'debug' } });
  const secrets = new Map<string, string>();
  const keep = (what: string, value: unknown) => {
    if (typeof value !== 'string' || value.length < 8) throw new Error(`no ${what} to look for`);
    secrets.set(what, value);
  };

  // A person signs up and registers a client in the browser pages.
  const username = uniqueName('audit');
  keep('password', PASSWORD);
  const browser = new BrowserSession(server.url);
  await browser.submit(await browser.get('/'), 'Create account', { Username: username, Password: PASSWORD });
  const created = await browser.submit(await browser.get('/'), 'Create client', {
    'Client name': 'audit client',
    'Client URI': 'https://authlib.org/',
    'Redirect URIs': REDIRECT_URI,
    authorization_code: true,
    password: true,
    refresh_token: true,
    'Response types': 'code',
    Scope: 'openid profile',
    'Token endpoint auth method': 'client_secret_basic',
  });
  t.equal(created.status, 201, 'client created');
  const clientId = cell(created.html, 'client_id');
  const clientSecret = cell(created.html, 'client_secret');
  keep('client secret', clientSecret);
  const client = { clientId: clientId!, clientSecret: clientSecret! };

  // The code flow through consent; tokens used, refreshed, introspected and revoked.
  const login = await browser.get(authorizePath(client.clientId));
  const consent = await browser.submit(login, `Continue as ${username}`);
  const code = landing(await browser.submit(consent, 'Allow')).params.get('code');
  keep('authorization code', code);
  const tokens = await exchangeCode(server.url, client, code!);
  t.equal(tokens.status, 200, 'code exchanged');
  keep('access token', tokens.body.access_token);
  keep('refresh token', tokens.body.refresh_token);
  keep('id token', tokens.body.id_token);
  const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
  t.equal(me.status, 200);

  const wrong = 'definitely-not-the-password';
  keep('wrong password', wrong);
  t.equal((await token(server.url, client, { grant_type: 'password', username, password: wrong, scope: 'profile' })).status, 400);
  const byPassword = await token(server.url, client, { grant_type: 'password', username, password: PASSWORD, scope: 'profile' });
  t.equal(byPassword.status, 200);
  keep('password-grant access token', byPassword.body.access_token);
  const refreshed = await token(server.url, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
  t.equal(refreshed.status, 200);
  keep('rotated refresh token', refreshed.body.refresh_token);
  const auth = { basicAuth: { id: client.clientId, secret: client.clientSecret }, encoding: 'urlencoded' as const };
  t.equal((await post(`${server.url}/oauth/introspect`, { token: byPassword.body.access_token }, auth)).body.active, true);
  t.equal((await post(`${server.url}/oauth/revoke`, { token: byPassword.body.access_token }, auth)).status, 200);
  // A token in a query string (where it does not belong) is not logged either.
  await fetch(`${server.url}/oauth/userinfo?access_token=${refreshed.body.access_token}`);
  keep('rotated access token', refreshed.body.access_token);

  // The secret is rotated, the client deleted; someone fails to sign in; the person signs out.
  const clientPage = await browser.get(`/clients/${client.clientId}`);
  const rotated = await browser.submit(clientPage, 'Rotate secret');
  keep('rotated client secret', cell(rotated.html, 'client_secret'));
  await browser.submit(await browser.get(`/clients/${client.clientId}`), 'Delete client');
  const stranger = new BrowserSession(server.url);
  const failed = await stranger.submit(await stranger.get('/'), 'Sign in', { Username: username, Password: wrong });
  t.equal(failed.status, 401);
  const home = await browser.get('/');
  for (const cookie of browser.jar.header(home.url).split('; ')) {
    const eq = cookie.indexOf('=');
    const name = cookie.slice(0, eq);
    // _interaction holds the interaction's uid, which is in its page's URL by design (/interaction/:uid);
    // its .sig cookie is what makes it unforgeable, and that one is checked.
    if (eq > 0 && cookie.length - eq > 8 && !/^_interaction(_resume)?$/.test(name)) keep(`cookie ${name}`, cookie.slice(eq + 1));
  }
  keep('csrf token', browser.csrf(home));
  await browser.submit(home, 'Sign out');

  server.child.kill('SIGTERM');
  await server.exited;
  const output = server.output();

  t.test('no secret anywhere in the log', async (t) => {
    for (const [what, value] of secrets) t.notOk(output.includes(value), `the ${what} is not in the log`);
  });

  t.test('an audit line for each security event', async (t) => {
    const audits = logLines(output).filter((line) => line.audit === true);
    const events = audits.map((line) => line.event);
    for (const event of [
      'account.created',
      'client.created',
      'consent.granted',
      'password_grant.failure',
      'password_grant.success',
      'token.revoked',
      'client.secret_rotated',
      'client.deleted',
      'sign_in.failure',
      'sign_out',
    ]) {
      t.ok(events.includes(event), `audit ${event}`);
    }
    for (const line of audits) {
      t.ok(typeof line.reqId === 'string' && line.reqId, `${String(line.event)} carries the request id`);
      t.ok(typeof line.ip === 'string', `${String(line.event)} carries the client's IP`);
    }
    const failure = audits.find((line) => line.event === 'sign_in.failure');
    t.equal(failure?.username, username, 'a failed sign-in names the username tried (never the password)');
    const revoked = audits.find((line) => line.event === 'token.revoked');
    t.equal(revoked?.client_id, client.clientId, 'a revocation names the client');
  });
});
