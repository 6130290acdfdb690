import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { parseJsonOutput, refused, runCli, succeeded } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { createClient, PASSWORD } from './helpers/fixtures.js';
import { passwordGrant } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';
import { codeFor, secretOf } from './helpers/totp.js';

// Every command is a new process opening the database: slow on the embedded one, on a busy machine.
t.setTimeout(300_000);

/**
 * latchkey user reset-2fa: an operator removes the authenticator app of someone who lost it.
 * The server is stopped while a command runs (the embedded database admits one process) and
 * started again on the same data.
 */
t.test('user show and user reset-2fa', async (t) => {
  const fresh = await freshDatabase(t);
  const cli = (args: string[], input?: string) => runCli(fresh, args, input === undefined ? {} : { input });
  succeeded(t, await cli(['user', 'create', '--username', 'alice', '--password-stdin'], `${PASSWORD}\n`), 'user create alice');

  const first = await startServer(t, { fresh });
  const browser = new BrowserSession(first.url);
  await browser.submit(await browser.get('/'), 'Sign in', { Username: 'alice', Password: PASSWORD });
  const setup = await browser.submit(await browser.get('/account'), 'Set up authenticator app');
  const on = await browser.submit(setup, 'Turn on', { 'Authentication code': codeFor(secretOf(setup)) });
  t.equal(on.status, 200, 'two-factor turned on');
  await first.app.close();

  const shown = await cli(['user', 'show', 'alice']);
  succeeded(t, shown, 'user show');
  t.match(shown.stdout, /two-factor: on \(authenticator app\)/);
  t.equal(parseJsonOutput(await cli(['user', 'show', 'alice', '--json'])).two_factor, true, 'user show --json: two_factor true');

  const reset = await cli(['user', 'reset-2fa', 'alice', '--json']);
  succeeded(t, reset, 'user reset-2fa');
  t.same(parseJsonOutput(reset), { id: 1, username: 'alice', two_factor_removed: true });
  t.match(reset.auditLines, [{ audit: true, event: 'totp.reset', account: 1, username: 'alice', removed: true, source: 'cli' }]);
  t.equal(parseJsonOutput(await cli(['user', 'show', 'alice', '--json'])).two_factor, false, 'now off');
  const again = await cli(['user', 'reset-2fa', 'alice']);
  succeeded(t, again, 'user reset-2fa again');
  t.match(again.stdout, 'alice had no authenticator app; nothing to remove.');
  const nobody = refused(t, await cli(['user', 'reset-2fa', 'nobody']), 1, 'an unknown user');
  t.match(nobody, 'no user named "nobody"');
  refused(t, await cli(['user', 'reset-2fa']), 2, 'no name');

  const second = await startServer(t, { fresh });
  const client = await createClient(second.app);
  t.equal((await passwordGrant(second.url, client, 'alice', PASSWORD)).status, 200, 'the password grant works again');
  const signIn = new BrowserSession(second.url);
  const page = await signIn.submit(await signIn.get('/'), 'Sign in', { Username: 'alice', Password: PASSWORD });
  t.ok(signIn.hasButton(page, 'Sign out'), `the password alone signs in: ${mainText(page).slice(0, 80)}`);
  t.equal((await second.app.db.selectFrom('recovery_codes').selectAll().execute()).length, 0, 'the recovery codes are gone');
});
