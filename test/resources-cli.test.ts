import t from 'tap';
import { parseJsonOutput, refused, runCli, succeeded } from './helpers/cli.js';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { createClient } from './helpers/fixtures.js';
import { token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

// Every command is a new process opening the database: slow on the embedded one, on a busy machine.
t.setTimeout(300_000);

const ISSUER = 'http://127.0.0.1:5000';

t.test('latchkey resource create | list | delete', async (t) => {
  const target = await freshDatabase(t);
  const env = { env: { ISSUER } };

  const created = await runCli(
    target,
    [
      'resource',
      'create',
      '--uri',
      'https://tools.example/mcp',
      '--name',
      'Tool server',
      '--scope',
      'tools:read  tools:write tools:read',
      '--json',
    ],
    env,
  );
  succeeded(t, created, 'create --json');
  t.same(parseJsonOutput(created), { uri: 'https://tools.example/mcp', name: 'Tool server', scopes: ['tools:read', 'tools:write'] });
  t.match(created.auditLines, [{ event: 'resource.created', uri: 'https://tools.example/mcp' }]);

  const text = await runCli(
    target,
    ['resource', 'create', '--uri', 'http://localhost:8080/files', '--name', 'Files', '--scope', 'files:read'],
    env,
  );
  succeeded(t, text, 'create');
  t.equal(text.stdout, 'Registered resource http://localhost:8080/files (Files), scopes: files:read.\n');

  const list = await runCli(target, ['resource', 'list', '--json'], env);
  succeeded(t, list, 'list --json');
  t.same(parseJsonOutput(list), {
    resources: [
      { uri: `${ISSUER}/api`, name: 'Latchkey API', scopes: ['profile'], built_in: true },
      { uri: 'https://tools.example/mcp', name: 'Tool server', scopes: ['tools:read', 'tools:write'], built_in: false },
      { uri: 'http://localhost:8080/files', name: 'Files', scopes: ['files:read'], built_in: false },
    ],
  });
  const listText = await runCli(target, ['resource', 'list'], env);
  succeeded(t, listText, 'list');
  t.match(listText.stdout, /^URI +NAME +SCOPES\n/);
  t.match(listText.stdout, /https:\/\/tools\.example\/mcp +Tool server +tools:read tools:write/);

  const cases: [string[], RegExp][] = [
    [['--uri', 'https://tools.example/mcp', '--name', 'Again', '--scope', 'x'], /exists already/],
    [['--uri', 'http://tools.example/mcp', '--name', 'Plain', '--scope', 'x'], /must use https/],
    [['--uri', 'https://tools.example/#frag', '--name', 'Frag', '--scope', 'x'], /fragment/],
    [['--uri', '/relative', '--name', 'Rel', '--scope', 'x'], /not an absolute URI/],
    [['--uri', 'https://a.example/', '--name', 'Bad scope', '--scope', 'ok "quoted"'], /not a valid scope token/],
    [['--uri', 'https://a.example/', '--name', 'OIDC', '--scope', 'openid'], /OpenID Connect scopes/],
    [['--uri', 'https://a.example/', '--name', ' ', '--scope', 'x'], /needs a name/],
    [['--uri', 'https://a.example/', '--name', 'Empty', '--scope', ' '], /at least one scope/],
    [['--uri', `${ISSUER}/api`, '--name', 'API', '--scope', 'x'], /Latchkey's own API/],
  ];
  for (const [args, why] of cases) {
    const line = refused(t, await runCli(target, ['resource', 'create', ...args, '--json'], env), 1, `create ${args.join(' ')}`);
    t.match(line, why);
  }
  t.match(
    refused(t, await runCli(target, ['resource', 'create', '--uri', 'https://a.example/', '--name', 'No scope'], env), 2, 'no --scope'),
    /needs --scope/,
  );

  const deleted = await runCli(target, ['resource', 'delete', 'https://tools.example/mcp', '--json'], env);
  succeeded(t, deleted, 'delete --json');
  t.same(parseJsonOutput(deleted), { uri: 'https://tools.example/mcp', deleted: true });
  t.match(
    refused(t, await runCli(target, ['resource', 'delete', 'https://tools.example/mcp'], env), 1, 'delete again'),
    /no resource with URI/,
  );
  t.match(refused(t, await runCli(target, ['resource', 'delete', `${ISSUER}/api`], env), 1, 'delete the API'), /always a resource/);
  const after = parseJsonOutput(await runCli(target, ['resource', 'list', '--json'], env));
  t.same(
    (after.resources as { uri: string }[]).map((r) => r.uri),
    [`${ISSUER}/api`, 'http://localhost:8080/files'],
  );
});

t.test(
  'a resource created with the CLI while a server runs is usable at once',
  { skip: !onPostgres && 'the embedded database admits one process' },
  async (t) => {
    const { url, app, fresh } = await startServer(t);
    const uri = 'https://live.example/mcp';
    const machine = await createClient(app, {
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'profile',
    });
    const ask = () => token(url, machine, { grant_type: 'client_credentials', resource: uri, scope: 'live:use' });
    t.equal((await ask()).body.error, 'invalid_target', 'unknown before');
    succeeded(t, await runCli(fresh, ['resource', 'create', '--uri', uri, '--name', 'Live', '--scope', 'live:use']), 'create');
    // A client may be registered for the new scope at once, and use it at once.
    const user = await createClient(app, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'live:use' });
    const res = await token(url, user, { grant_type: 'client_credentials', resource: uri, scope: 'live:use' });
    t.equal(res.status, 200);
    t.equal(res.body.scope, 'live:use');
    succeeded(t, await runCli(fresh, ['resource', 'delete', uri]), 'delete');
    const gone = await token(url, user, { grant_type: 'client_credentials', resource: uri, scope: 'live:use' });
    t.equal(gone.body.error, 'invalid_target', 'unknown again at once');
  },
);
