import { readdir } from 'node:fs/promises';
import t from 'tap';
import { COMMANDS } from '../src/cli/run.js';
import { parseJsonOutput, refused, runCli, succeeded } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { PASSWORD } from './helpers/fixtures.js';

// Every command is a new process opening the database: slow on the embedded one, on a busy machine.
t.setTimeout(300_000);

const USAGE_ERRORS: Array<[string[], RegExp]> = [
  [[], /no command given/],
  [['frob'], /unknown command "frob"/],
  [['client'], /"client" needs a subcommand: create, list, show, delete, rotate-secret$/],
  [['client', 'frob'], /unknown command "client frob"/],
  [['client', 'create', '--scope', 'profile'], /"client create" needs --name$/],
  [['client', 'create', '--name', 'x', '--grant-type', 'client_credentials'], /"client create" needs --scope$/],
  [['client', 'create', '--name'], /--name needs a value$/],
  [['client', 'create', '--name', '--uri', 'https://app.example/'], /--name needs a value$/],
  [['client', 'create', '--name', 'x', '--bogus'], /unknown option --bogus for "client create"/],
  [['client', 'create', '--name', 'x', '--name', 'y'], /--name is given more than once$/],
  [['client', 'show'], /"client show" needs a client_id$/],
  [['client', 'show', 'a', 'b'], /unexpected argument "b" for "client show"$/],
  [['client', 'list', '--json=yes'], /--json takes no value$/],
  [['user', 'create', '--password-stdin'], /"user create" needs --username$/],
  [['user', 'create', '--username', 'bob'], /reads the password from standard input: add --password-stdin/],
  [['user', 'create', '--username', 'bob', '--password', 'hunter22'], /passwords are never taken as arguments/],
  [['user', 'create', '--username', 'bob', '--password-stdin=hunter22'], /--password-stdin takes no value$/],
  [['keys'], /"keys" needs a subcommand: rotate$/],
  [['migrate', 'now'], /unexpected argument "now" for "migrate"$/],
  [['--json', 'client', 'list'], /the command comes first/],
];

t.test('bad usage: exit status 2 and one line, before touching the database', async (t) => {
  const fresh = await freshDatabase(t);
  for (let i = 0; i < USAGE_ERRORS.length; i += 4) {
    const batch = USAGE_ERRORS.slice(i, i + 4);
    // With --json too (but not alone, which is an error of its own): still nothing on stdout.
    const results = await Promise.all(batch.map(([args]) => runCli(fresh, args.length ? [...args, '--json'] : args)));
    batch.forEach(([args, message], j) => {
      const line = refused(t, results[j]!, 2, `latchkey ${args.join(' ')}`);
      t.match(line, message, `latchkey ${args.join(' ')}: ${message}`);
    });
  }
  t.same(await readdir(fresh.dataDir), [], 'no database was opened');

  const help = await runCli(fresh, ['--help']);
  succeeded(t, help, '--help');
  for (const command of COMMANDS) t.match(help.stdout, `latchkey ${command.name}`, `the help shows ${command.name}`);
});

t.test('refused input: exit status 1, one line, nothing on stdout even with --json', async (t) => {
  const fresh = await freshDatabase(t);
  succeeded(
    t,
    await runCli(fresh, ['user', 'create', '--username', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` }),
    'user create',
  );
  const spa = await runCli(fresh, [
    'client',
    'create',
    '--name',
    'spa',
    '--redirect-uri',
    'http://127.0.0.1:8080/cb',
    '--grant-type',
    'authorization_code',
    '--response-type',
    'code',
    '--scope',
    'openid profile',
    '--auth-method',
    'none',
    '--json',
  ]);
  succeeded(t, spa, 'a public client');
  const spaClient = parseJsonOutput(spa);
  t.notOk('client_secret' in spaClient, 'a public client has no secret');

  const cases: Array<[string, string[], string | undefined, RegExp]> = [
    [
      'a taken username (any case)',
      ['user', 'create', '--username', 'ALICE', '--password-stdin'],
      `${PASSWORD}\n`,
      /^latchkey: cannot create user "ALICE": That username is taken\.$/,
    ],
    ['a short password', ['user', 'create', '--username', 'carol', '--password-stdin'], 'short\n', /at least 8 characters\.$/],
    ['no password on stdin', ['user', 'create', '--username', 'carol', '--password-stdin'], '', /no password on standard input/],
    [
      'invalid client metadata',
      ['client', 'create', '--name', 'x', '--grant-type', 'implicit', '--redirect-uri', 'http://app.example/cb', '--scope', 'profile nope'],
      undefined,
      /^latchkey: invalid client: .*only loopback hosts.*The implicit grant and a "token".*Unknown scope "nope"/,
    ],
    [
      'an unknown owner',
      ['client', 'create', '--name', 'x', '--grant-type', 'client_credentials', '--scope', 'profile', '--owner', 'nobody'],
      undefined,
      /no user named "nobody"/,
    ],
    ['show: an unknown client', ['client', 'show', 'nope'], undefined, /^latchkey: no client with id "nope"/],
    ['delete: an unknown client', ['client', 'delete', 'nope'], undefined, /^latchkey: no client with id "nope"/],
    ['rotate-secret: an unknown client', ['client', 'rotate-secret', 'nope'], undefined, /^latchkey: no client with id "nope"/],
    [
      'rotate-secret: a public client',
      ['client', 'rotate-secret', String(spaClient.client_id)],
      undefined,
      /is a public client \(auth method "none"\): it has no secret$/,
    ],
  ];
  for (const [what, args, input, message] of cases) {
    const result = await runCli(fresh, [...args, '--json'], input === undefined ? {} : { input });
    t.match(refused(t, result, 1, what), message, `${what}: ${message}`);
  }
  const list = parseJsonOutput(await runCli(fresh, ['client', 'list', '--json']));
  t.same(
    (list.clients as Array<{ client_id: string }>).map((c) => c.client_id),
    [spaClient.client_id],
    'none of the refused clients was created',
  );
});

t.test('configuration and database problems: one line', async (t) => {
  const fresh = await freshDatabase(t);
  const badConfig = await runCli(fresh, ['client', 'list'], { env: { ACCESS_TOKEN_TTL: 'soon' } });
  t.match(refused(t, badConfig, 1, 'a bad variable'), /^latchkey: ACCESS_TOKEN_TTL must be a whole number, got "soon"$/);
  const unreachable = await runCli(fresh, ['client', 'list'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/latchkey' } });
  t.match(refused(t, unreachable, 1, 'no database there'), /^latchkey: cannot reach the database at DATABASE_URL: .*ECONNREFUSED/);
});

t.test('names are shown escaped: no control characters reach the terminal', async (t) => {
  const fresh = await freshDatabase(t);
  const created = await runCli(fresh, [
    'client',
    'create',
    '--name',
    'evil\u001b[2J\u0007',
    '--grant-type',
    'client_credentials',
    '--scope',
    'profile',
  ]);
  succeeded(t, created, 'client create');
  t.match(created.stdout, '  client_name: evil\\u001b[2J\\u0007\n');
  // eslint-disable-next-line no-control-regex -- the control characters are what is looked for
  t.notMatch(created.stdout, /[\u0000-\u0008\u000b-\u001f]/, 'no raw control character on stdout');
  const asJson = parseJsonOutput(await runCli(fresh, ['client', 'list', '--json']));
  t.equal((asJson.clients as Array<{ client_name: string }>)[0]?.client_name, 'evil\u001b[2J\u0007', 'JSON carries the name as it is');
});
