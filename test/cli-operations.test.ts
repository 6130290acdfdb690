import t from 'tap';
import { parseJsonOutput, runCli, succeeded } from './helpers/cli.js';
import { freshDatabase } from './helpers/database.js';
import { json } from './helpers/http.js';
import { startServer } from './helpers/server.js';

// Every command is a new process opening the database: slow on the embedded one, on a busy machine.
t.setTimeout(300_000);

type Jwk = { kid: string; alg: string };

function register(url: string, token: string, body: unknown): Promise<Response> {
  return fetch(`${url}/oauth/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

t.test('registration-token create: a token for /oauth/register, printed once', async (t) => {
  const fresh = await freshDatabase(t);
  const asJson = await runCli(fresh, ['registration-token', 'create', '--json']);
  succeeded(t, asJson, 'registration-token create --json');
  const issued = parseJsonOutput(asJson);
  t.same(Object.keys(issued).sort(), ['expires_at', 'initial_access_token']);
  t.type(issued.initial_access_token, 'string');
  t.ok(Number.isInteger(issued.expires_at), 'expires_at is an integer');
  t.ok(Math.abs(Number(issued.expires_at) - (Date.now() / 1000 + 24 * 3600)) < 120, 'it expires in 24 hours');

  const asText = await runCli(fresh, ['registration-token', 'create'], { env: { ISSUER: 'https://id.example.com' } });
  succeeded(t, asText, 'registration-token create');
  const textToken = /^Initial access token \(shown only now\): (\S+)\n/.exec(asText.stdout)?.[1];
  t.ok(textToken, 'the token, on its own line');
  t.match(
    asText.stdout,
    /https:\/\/id\.example\.com\/oauth\/register until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(24 hours\)/,
    'where and until when',
  );
  t.match(asText.stdout, /curl -H "Authorization: Bearer \S+"/, 'with a curl example');

  const server = await startServer(t, { fresh });
  for (const token of [String(issued.initial_access_token), textToken ?? '']) {
    const res = await register(server.url, token, { client_name: 'from the cli token', redirect_uris: ['https://app.example/cb'] });
    t.equal(res.status, 201, 'the server registers a client with it');
    t.ok(String((await json(res)).client_id).length >= 24);
  }
  const bad = await register(server.url, String(issued.initial_access_token), { redirect_uris: ['http://app.example/cb'] });
  t.equal(bad.status, 400, 'and holds what it registers to the client rules');
});

t.test('keys rotate: new keys, the previous ones kept for the longest token lifetime', async (t) => {
  const fresh = await freshDatabase(t);
  const first = await startServer(t, { fresh });
  const before = ((await json(fetch(`${first.url}/oauth/jwks`))).keys as Jwk[]).map((k) => k.kid);
  await first.app.close();

  const rotated = await runCli(fresh, ['keys', 'rotate', '--json'], { env: { ACCESS_TOKEN_TTL: '7200' } });
  succeeded(t, rotated, 'keys rotate --json');
  const result = parseJsonOutput(rotated);
  const kids = result.kids as string[];
  t.equal(kids.length, 2, 'one new key per algorithm');
  t.match(kids, [/^rs256-/, /^es256-/]);
  t.ok(Math.abs(Number(result.previous_keys_retire_at) - (Date.now() / 1000 + 7200 + 300)) < 120, 'kept for ACCESS_TOKEN_TTL + 5 minutes');
  t.match(rotated.auditLines, [{ audit: true, event: 'key.rotated', source: 'cli', kids }], 'an audit line on stderr names the new keys');
  t.notMatch(rotated.stderr, /"d":|PRIVATE/, 'and no private key material');

  const asText = await runCli(fresh, ['keys', 'rotate']);
  succeeded(t, asText, 'keys rotate');
  const textKids = /^New signing keys: (rs256-\S+), (es256-\S+) \(and a new cookie key\)\.\n/.exec(asText.stdout)?.slice(1) ?? [];
  t.equal(textKids.length, 2, 'the new kids, by name');
  t.match(asText.stdout, /until \S+Z \(3900 seconds\)/, 'an hour (id tokens) and 5 minutes by default');
  t.match(asText.stdout, /Running servers pick the new keys up when they restart/);

  const server = await startServer(t, { fresh });
  const keys = (await json(fetch(`${server.url}/oauth/jwks`))).keys as Jwk[];
  t.same(keys.map((k) => k.kid).sort(), [...before, ...kids, ...textKids].sort(), 'every key still within its time is published');
  for (const alg of ['RS256', 'ES256']) {
    t.ok(textKids.includes(keys.find((k) => k.alg === alg)?.kid ?? ''), `the newest ${alg} key signs`);
  }
});
