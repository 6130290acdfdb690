import t from 'tap';
import { parseJsonOutput, runCli, succeeded } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { PASSWORD } from './helpers/fixtures.js';
import { basic, json } from './helpers/http.js';
import { startServer } from './helpers/server.js';

// Every command is a new process opening the database: slow on the embedded one, on a busy machine.
t.setTimeout(300_000);

/** The Authlib example's client, as README.md spells the command. */
const SEED_CLIENT = [
  '--name',
  'test',
  '--uri',
  'https://authlib.org/',
  '--redirect-uri',
  'https://authlib.org/',
  '--grant-type',
  'authorization_code',
  '--grant-type',
  'password',
  '--grant-type',
  'refresh_token',
  '--response-type',
  'code',
  '--scope',
  'profile',
  '--auth-method',
  'client_secret_basic',
];

function token(url: string, clientId: string, clientSecret: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
}

t.test('migrate, user create and every client command, in text and in JSON', async (t) => {
  const fresh = await freshDatabase(t);

  const migrated = await runCli(fresh, ['migrate']);
  succeeded(t, migrated, 'migrate');
  t.match(migrated.stdout, /^Applied 0001_init\.sql(, \d{4}_[\w-]+\.sql)*\.\n$/, 'every migration, in order');
  const again = await runCli(fresh, ['migrate', '--json']);
  succeeded(t, again, 'migrate --json');
  t.same(parseJsonOutput(again), { applied: [] }, 'nothing left to apply');

  const userText = await runCli(fresh, ['user', 'create', '--username', 'bob', '--password-stdin'], { input: `${PASSWORD}\n` });
  succeeded(t, userText, 'user create');
  t.match(userText.stdout, /^Created user bob \(id \d+\)\.\n$/);
  const user = await runCli(fresh, ['user', 'create', '--username', 'alice', '--password-stdin', '--json'], { input: `${PASSWORD}\n` });
  succeeded(t, user, 'user create --json');
  const alice = parseJsonOutput(user);
  t.equal(alice.username, 'alice');
  t.ok(Number.isInteger(alice.id) && Number.isInteger(alice.created_at), 'id and created_at are integers');

  const seed = await runCli(fresh, ['client', 'create', ...SEED_CLIENT, '--owner', 'alice']);
  succeeded(t, seed, 'client create');
  const seedMatch = new RegExp(
    [
      '^Client Info',
      '  client_id: ([A-Za-z0-9_-]{24,})',
      '  client_secret: ([A-Za-z0-9_-]{48,})',
      '  client_id_issued_at: \\d+',
      '  client_secret_expires_at: 0',
      'Client Metadata',
      '  client_name: test',
      '  client_uri: https://authlib.org/',
      "  grant_types: \\['authorization_code', 'password', 'refresh_token'\\]",
      "  redirect_uris: \\['https://authlib.org/'\\]",
      "  response_types: \\['code'\\]",
      '  scope: profile',
      '  token_endpoint_auth_method: client_secret_basic',
      'Owner: alice',
      '',
    ].join('\n'),
  ).exec(seed.stdout);
  t.ok(seedMatch, 'Client Info and Client Metadata as the Authlib example printed them');
  const [, seedId = '', seedSecret = ''] = seedMatch ?? [];

  const machineRun = await runCli(fresh, [
    'client',
    'create',
    '--name',
    'machine',
    '--grant-type',
    'client_credentials',
    '--scope',
    'openid profile',
    '--json',
  ]);
  succeeded(t, machineRun, 'client create --json');
  const machine = parseJsonOutput(machineRun);
  t.match(
    machineRun.auditLines,
    [{ audit: true, event: 'client.created', source: 'cli', client_id: machine.client_id }],
    'an audit line for the new client',
  );
  t.notOk(machineRun.stderr.includes(String(machine.client_secret)), 'the audit line holds no secret');
  t.same(
    Object.keys(machine).sort(),
    [
      'client_id',
      'client_id_issued_at',
      'client_name',
      'client_secret',
      'client_secret_expires_at',
      'grant_types',
      'redirect_uris',
      'response_types',
      'scope',
      'token_endpoint_auth_method',
    ],
    'Client Info and the RFC 7591 metadata, nothing else',
  );
  t.ok(Number.isInteger(machine.client_id_issued_at), 'client_id_issued_at is an integer');
  t.equal(machine.client_secret_expires_at, 0);
  t.match(machine, {
    client_name: 'machine',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'openid profile',
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const machineId = String(machine.client_id);
  const machineSecret = String(machine.client_secret);

  const doomed = parseJsonOutput(
    await runCli(fresh, ['client', 'create', '--name', 'doomed', '--grant-type', 'client_credentials', '--scope', 'profile', '--json']),
  );
  const doomedId = String(doomed.client_id);

  const listText = await runCli(fresh, ['client', 'list']);
  succeeded(t, listText, 'client list');
  const lines = listText.stdout.trimEnd().split('\n');
  t.match(lines[0], /^CLIENT ID +NAME +OWNER +GRANT TYPES$/);
  t.equal(lines.length, 4, 'a header and one line per client');
  t.ok(
    lines.some((l) => new RegExp(`^${seedId} +test +alice +authorization_code password refresh_token$`).test(l)),
    'the example client, its owner and grants',
  );
  t.ok(
    lines.some((l) => new RegExp(`^${machineId} +machine +- +client_credentials$`).test(l)),
    'a client without an owner',
  );
  const list = await runCli(fresh, ['client', 'list', '--json']);
  succeeded(t, list, 'client list --json');
  const clients = parseJsonOutput(list).clients as Array<Record<string, unknown>>;
  t.same(clients.map((c) => c.client_id).sort(), [seedId, machineId, doomedId].sort());
  t.match(
    clients.find((c) => c.client_id === seedId),
    { owner: 'alice', client_name: 'test' },
  );
  t.match(
    clients.find((c) => c.client_id === machineId),
    { owner: null },
  );
  t.notOk(
    clients.some((c) => 'client_secret' in c),
    'no secret, nor its hash, in the list',
  );

  const show = await runCli(fresh, ['client', 'show', seedId]);
  succeeded(t, show, 'client show');
  t.match(show.stdout, /^Client Info\n {2}client_id: \S+\n {2}client_secret: \(kept only as a hash; [^\n]+\)\n/);
  t.match(show.stdout, /\n {2}scope: profile\n {2}token_endpoint_auth_method: client_secret_basic\nOwner: alice\n$/);
  t.notMatch(show.stdout, seedSecret, 'the secret is never shown again');
  const shown = parseJsonOutput(await runCli(fresh, ['client', 'show', seedId, '--json']));
  t.match(shown, {
    client_id: seedId,
    client_name: 'test',
    has_secret: true,
    owner: 'alice',
    grant_types: ['authorization_code', 'password', 'refresh_token'],
  });
  t.notOk('client_secret' in shown, 'no secret in show --json');

  const rotated = await runCli(fresh, ['client', 'rotate-secret', machineId, '--json']);
  succeeded(t, rotated, 'client rotate-secret --json');
  const rotation = parseJsonOutput(rotated);
  t.match(rotated.auditLines, [{ event: 'client.secret_rotated', client_id: machineId }]);
  t.notOk(rotated.stderr.includes(String(rotation.client_secret)), 'the audit line holds no secret');
  t.same(Object.keys(rotation).sort(), ['client_id', 'client_secret', 'client_secret_expires_at']);
  t.equal(rotation.client_id, machineId);
  const newSecret = String(rotation.client_secret);
  t.ok(newSecret.length >= 48 && newSecret !== machineSecret, 'a new secret of at least 48 characters');
  const rotatedText = await runCli(fresh, ['client', 'rotate-secret', seedId]);
  succeeded(t, rotatedText, 'client rotate-secret');
  const seedSecretNow = /^New client secret for \S+ \(shown only now\): (\S{48,})\nThe previous secret no longer works\.\n$/.exec(
    rotatedText.stdout,
  )?.[1];
  t.ok(seedSecretNow, 'the new secret, once');

  const deleted = await runCli(fresh, ['client', 'delete', doomedId, '--json']);
  succeeded(t, deleted, 'client delete --json');
  t.same(parseJsonOutput(deleted), { client_id: doomedId, deleted: true });
  const deletedText = await runCli(fresh, ['client', 'delete', doomedId]);
  t.equal(deletedText.code, 1, 'deleting it again fails');
  t.same(deletedText.errorLines, [`latchkey: no client with id "${doomedId}" (see latchkey client list)`]);

  // A server on the same database sees exactly what the command line did.
  const server = await startServer(t, { fresh });
  const issued = await token(server.url, machineId, newSecret, { grant_type: 'client_credentials', scope: 'profile' });
  t.equal(issued.status, 200, 'the rotated secret works at the token endpoint');
  t.equal((await token(server.url, machineId, machineSecret, { grant_type: 'client_credentials' })).status, 401, 'the old one does not');
  t.equal(
    (await token(server.url, doomedId, String(doomed.client_secret), { grant_type: 'client_credentials' })).status,
    401,
    'a deleted client gets nothing',
  );
  const grant = await token(server.url, seedId, seedSecretNow ?? '', {
    grant_type: 'password',
    username: 'alice',
    password: PASSWORD,
    scope: 'profile',
  });
  t.equal(grant.status, 200, 'the user made by the command line signs in through the example client');
  const me = await json(fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${(await json(grant)).access_token}` } }));
  t.same(me, { id: alice.id, username: 'alice' });
});
