import t from 'tap';
import type { Test } from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import type { CookieJar } from './helpers/cookie-jar.js';
import { parseJsonOutput, refused, runCli, succeeded } from './helpers/cli.js';
import { freshDatabase, onPostgres, type FreshDatabase } from './helpers/database.js';
import { PASSWORD } from './helpers/fixtures.js';
import { apiMe, passwordGrant, post, type Client } from './helpers/oauth.js';
import { startServer, type TestServer } from './helpers/server.js';

// Every command is a new process opening the database: slow on the embedded one, on a busy machine.
t.setTimeout(300_000);

const NEW_PASSWORD = 'an operator set this one';

/**
 * The operator's user commands, on PostgreSQL with the server running beside them (it must see
 * each change at once), on the embedded database with the server stopped while a command runs
 * (it admits one process) and started again on the same data.
 */
t.test('user list, show, set-password, disable, enable and delete', async (t) => {
  const fresh = await freshDatabase(t);
  const cli = (args: string[], input?: string) => runCli(fresh, args, input === undefined ? {} : { input });
  let server: TestServer | undefined;
  const running = async (t: Test) => (server ??= await startServer(t, { fresh }));
  /** Runs a command beside the server: on the embedded database the server stops first. */
  async function beside(args: string[], input?: string) {
    if (!onPostgres && server) {
      await server.app.close();
      server = undefined;
    }
    return cli(args, input);
  }

  succeeded(t, await cli(['user', 'create', '--username', 'alice', '--password-stdin'], `${PASSWORD}\n`), 'user create alice');
  succeeded(t, await cli(['user', 'create', '--username', 'bob', '--password-stdin'], `${PASSWORD}\n`), 'user create bob');
  const clientArgs = (name: string, owner: string) => [
    'client',
    'create',
    '--name',
    name,
    '--redirect-uri',
    'https://app.example/cb',
    '--grant-type',
    'password',
    '--grant-type',
    'refresh_token',
    '--grant-type',
    'authorization_code',
    '--response-type',
    'code',
    '--scope',
    'profile',
    '--owner',
    owner,
    '--json',
  ];
  const bobsClient = parseJsonOutput(await cli(clientArgs('bobs', 'bob')));
  const alicesClient = parseJsonOutput(await cli(clientArgs('alices', 'alice')));
  const client: Client = { clientId: String(bobsClient.client_id), clientSecret: String(bobsClient.client_secret) };

  const list = await cli(['user', 'list']);
  succeeded(t, list, 'user list');
  t.match(list.stdout, /^ID +USERNAME +CREATED +STATUS\n1 +alice +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +active\n2 +bob +\S+ +active\n$/);
  const listed = parseJsonOutput(await cli(['user', 'list', '--json']));
  t.match(listed, {
    users: [
      { id: 1, username: 'alice', created_at: Number, disabled_at: null },
      { id: 2, username: 'bob' },
    ],
  });
  const shown = await cli(['user', 'show', 'ALICE']);
  succeeded(t, shown, 'user show (in any case)');
  t.match(shown.stdout, `User alice (id 1)\n`);
  t.match(shown.stdout, `  status: active\n`);
  t.match(shown.stdout, `  clients: ['${String(alicesClient.client_id)}']\n`);

  const noSuch = refused(t, await cli(['user', 'show', 'carol']), 1, 'user show of nobody');
  t.equal(noSuch, 'latchkey: no user named "carol" (see latchkey user list)');
  for (const command of ['disable', 'enable', 'delete']) {
    refused(t, await cli(['user', command, 'carol']), 1, `user ${command} of nobody`);
    t.match(refused(t, await cli(['user', command]), 2, `user ${command} without a name`), `"user ${command}" needs a username`);
  }
  t.match(
    refused(t, await cli(['user', 'set-password', '--username', 'alice']), 2, 'set-password without --password-stdin'),
    '--password-stdin',
  );
  t.match(
    refused(t, await cli(['user', 'set-password', '--username', 'alice', '--password-stdin'], 'short\n'), 1, 'a short password'),
    'at least 8',
  );
  refused(
    t,
    await cli(['user', 'set-password', '--username', 'carol', '--password-stdin'], `${NEW_PASSWORD}\n`),
    1,
    'set-password of nobody',
  );

  // Alice signs in, to the console and with the password grant.
  let url = (await running(t)).url;
  const signIn = async (password: string) => {
    const browser = new BrowserSession(url);
    const after = await browser.submit(await browser.get('/'), 'Sign in', { Username: 'alice', Password: password });
    return { browser, status: after.status };
  };
  const signedIn = async (jar: CookieJar) => (await jar.fetch(new URL('/account', url))).status === 200;
  const console1 = await signIn(PASSWORD);
  t.ok(await signedIn(console1.browser.jar), 'alice is signed in to the console');
  const first = (await passwordGrant(url, client, 'alice', PASSWORD)).body as { access_token: string; refresh_token: string };
  t.equal((await apiMe(url, first.access_token)).status, 200, 'her token works');

  const disabled = await beside(['user', 'disable', 'alice', '--json']);
  succeeded(t, disabled, 'user disable');
  t.match(parseJsonOutput(disabled), { id: 1, username: 'alice', disabled_at: Number, sessions_ended: { console: 1 }, grants_revoked: 1 });
  t.match(disabled.auditLines, [{ event: 'account.disabled', account: 1 }, { event: 'account.sessions_ended' }]);
  url = (await running(t)).url;
  t.equal((await apiMe(url, first.access_token)).status, 401, 'her access token is refused at /api/me');
  const refresh = (token: string) =>
    post(
      `${url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: token },
      { basicAuth: { id: client.clientId, secret: client.clientSecret } },
    );
  t.equal((await refresh(first.refresh_token)).status, 400, 'her refresh token is refused');
  const grant = await passwordGrant(url, client, 'alice', PASSWORD);
  t.equal(grant.status, 400, 'the password grant refuses her');
  t.equal((grant.body as { error: string }).error, 'invalid_grant');
  t.notOk(await signedIn(console1.browser.jar), 'her console session ended');
  t.equal((await signIn(PASSWORD)).status, 401, 'and the sign-in form refuses her');
  t.equal((await passwordGrant(url, client, 'bob', PASSWORD)).status, 200, 'bob is not touched');

  const showDisabled = await beside(['user', 'show', 'alice']);
  t.match(showDisabled.stdout, / {2}status: disabled since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
  t.match((await cli(['user', 'list'])).stdout, /1 +alice +\S+ +disabled since /);
  const enabled = await cli(['user', 'enable', 'alice', '--json']);
  succeeded(t, enabled, 'user enable');
  t.match(parseJsonOutput(enabled), { id: 1, username: 'alice', disabled_at: null });
  t.match(enabled.auditLines, [{ event: 'account.enabled' }]);

  url = (await running(t)).url;
  const console2 = await signIn(PASSWORD);
  t.equal(console2.status, 200, 'enabled: she signs in again');
  t.ok(await signedIn(console2.browser.jar));
  const second = (await passwordGrant(url, client, 'alice', PASSWORD)).body as { access_token: string; refresh_token: string };
  t.equal((await apiMe(url, second.access_token)).status, 200, 'and gets tokens that work');
  t.equal((await apiMe(url, first.access_token)).status, 401, 'the revoked ones stay revoked');

  const set = await beside(['user', 'set-password', '--username', 'alice', '--password-stdin', '--json'], `${NEW_PASSWORD}\n`);
  succeeded(t, set, 'user set-password');
  t.match(parseJsonOutput(set), { id: 1, username: 'alice', sessions_ended: { console: 1 } });
  t.match(set.auditLines, [{ event: 'account.password_changed' }, { event: 'account.sessions_ended' }]);
  t.notMatch(set.stderr, NEW_PASSWORD, 'the password is in no audit line');
  url = (await running(t)).url;
  t.notOk(await signedIn(console2.browser.jar), 'her console session ended');
  t.equal((await passwordGrant(url, client, 'alice', PASSWORD)).status, 400, 'the old password no longer works');
  const third = await passwordGrant(url, client, 'alice', NEW_PASSWORD);
  t.equal(third.status, 200, 'the new one does');
  const latest = third.body as { access_token: string; refresh_token: string };

  const deleted = await beside(['user', 'delete', 'alice', '--json']);
  succeeded(t, deleted, 'user delete');
  t.match(parseJsonOutput(deleted), {
    id: 1,
    username: 'alice',
    deleted: true,
    clients: [String(alicesClient.client_id)],
    grants_revoked: 1,
  });
  t.match(deleted.auditLines, [{ event: 'account.deleted', username: 'alice' }]);
  refused(t, await cli(['client', 'show', String(alicesClient.client_id)]), 1, 'her client is gone');
  t.match(parseJsonOutput(await cli(['user', 'list', '--json'])), { users: [{ username: 'bob' }] });
  t.equal((parseJsonOutput(await cli(['user', 'list', '--json'])).users as unknown[]).length, 1, 'only bob is left');
  url = (await running(t)).url;
  t.equal((await apiMe(url, latest.access_token)).status, 401, 'her last token is refused at /api/me');
  const introspected = await post(
    `${url}/oauth/introspect`,
    { token: latest.access_token },
    { basicAuth: { id: client.clientId, secret: client.clientSecret } },
  );
  t.same(introspected.body, { active: false }, 'and inactive at introspection');
  t.equal((await refresh(latest.refresh_token)).status, 400, 'her refresh token too');
  t.equal((await passwordGrant(url, client, 'alice', NEW_PASSWORD)).status, 400, 'nobody signs in as her');

  const text = await beside(['user', 'delete', 'bob']);
  succeeded(t, text, 'user delete, in text');
  t.match(text.stdout, /^Deleted user bob, 1 client it owned and 1 grant with their tokens\.\n$/);
});

t.test('set-password and delete in text', async (t) => {
  const fresh: FreshDatabase = await freshDatabase(t);
  succeeded(
    t,
    await runCli(fresh, ['user', 'create', '--username', 'dora', '--password-stdin'], { input: `${PASSWORD}\n` }),
    'user create',
  );
  const set = await runCli(fresh, ['user', 'set-password', '--username', 'dora', '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
  succeeded(t, set, 'user set-password');
  t.equal(set.stdout, 'New password set for dora; 0 console sessions and 0 OpenID Connect sessions ended.\n');
  const disabled = await runCli(fresh, ['user', 'disable', 'dora']);
  t.match(disabled.stdout, /^Disabled dora: it cannot sign in \(latchkey user enable undoes this\)\.\n/);
  t.equal((await runCli(fresh, ['user', 'enable', 'dora'])).stdout, 'Enabled dora: it can sign in again.\n');
});
