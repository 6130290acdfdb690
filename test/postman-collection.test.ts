import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import t from 'tap';
import { createInitialAccessToken } from '../src/oidc/extensions/registration.js';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { createClient, createUser, uniqueName } from './helpers/fixtures.js';
import { codeFor } from './helpers/grant-flows.js';
import { startServer } from './helpers/server.js';

/**
 * docs/postman/latchkey.postman_collection.json, the README's walkthrough as Postman requests,
 * run by newman (Postman's own runner) against a real server, as a person would run it in the
 * Collection Runner after filling in the collection variables.
 */
const COLLECTION = new URL('../docs/postman/latchkey.postman_collection.json', import.meta.url);

/** What the collection holds: if a request or a pm.test is added or removed, say so here too. */
const REQUESTS = [
  'Password grant',
  '/api/me',
  'Authorization code exchange',
  '/api/me (code flow token)',
  'Refresh',
  'Introspection (active)',
  'Revocation',
  'Introspection (revoked)',
  'Client credentials',
  'Device authorization',
  'Device token poll',
  'Register a client',
  'Read the registered client',
  'Delete the registered client',
];
const ASSERTIONS = 49;

// newman ships no type declarations: the little of its Node API this test uses.
interface Counts {
  total: number;
  failed: number;
  pending: number;
}
interface Summary {
  run: {
    stats: Record<'items' | 'requests' | 'assertions' | 'testScripts', Counts>;
    failures: Array<{ error: { name: string; message: string; test?: string }; source?: { name?: string } }>;
    executions: Array<{
      item: { name: string };
      response?: { code: number };
      requestError?: { message: string };
      assertions?: Array<{ assertion: string; skipped?: boolean; error?: { message: string } }>;
    }>;
  };
}
interface Newman {
  run(options: Record<string, unknown>, callback: (error: Error | null, summary: Summary) => void): unknown;
}
const newman = createRequire(import.meta.url)('newman') as Newman;

interface Collection {
  item: Array<{ name: string; item?: Collection['item']; event?: Array<{ script: { exec: string[] } }> }>;
  variable: Array<{ key: string; value: string }>;
}

/** Runs the collection (or one folder of it) with these collection variables filled in. */
async function runCollection(variables: Record<string, string>, folder?: string): Promise<Summary> {
  const collection = JSON.parse(await readFile(COLLECTION, 'utf8')) as Collection;
  for (const [key, value] of Object.entries(variables)) {
    const variable = collection.variable.find((v) => v.key === key);
    if (!variable) throw new Error(`the collection has no variable ${key}`);
    variable.value = value;
  }
  return new Promise((resolve, reject) => {
    newman.run({ collection, reporters: [], timeoutRequest: 15_000, timeout: 60_000, ...(folder ? { folder } : {}) }, (error, summary) =>
      error ? reject(error) : resolve(summary),
    );
  });
}

const requestsOf = (items: Collection['item']): Collection['item'] => items.flatMap((item) => (item.item ? requestsOf(item.item) : [item]));

t.test('the collection holds the requests and assertions this test counts', async (t) => {
  const collection = JSON.parse(await readFile(COLLECTION, 'utf8')) as Collection & { info: { schema: string } };
  t.equal(collection.info.schema, 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json', 'Postman collection v2.1');
  const requests = requestsOf(collection.item);
  t.same(
    requests.map((r) => r.name),
    REQUESTS,
  );
  const tests = requests.flatMap((r) => r.event ?? []).flatMap((e) => e.script.exec.join('\n').match(/\bpm\.test\(/g) ?? []);
  t.equal(tests.length, ASSERTIONS, 'pm.test assertions in the scripts');
  t.same(
    collection.variable.map((v) => v.key).filter((key) => !/^(machine|device|registration|registered)_/.test(key)),
    ['base_url', 'client_id', 'client_secret', 'username', 'password', 'code', 'initial_access_token', 'access_token', 'refresh_token'],
    'the variables of the walkthrough',
  );
});

t.test('newman runs the whole collection against a real server: every request, every assertion passes', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app, uniqueName('postman'));
  // The README's clients: client.json (code, password, refresh), machine.json, and a device.
  const client = await createClient(app);
  const machine = await createClient(app, {
    client_name: 'machine',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  });
  const device = await createClient(app, {
    client_name: 'Living-room TV',
    grant_types: [DEVICE_CODE_GRANT],
    response_types: [],
    redirect_uris: [],
  });
  const { token: initialAccessToken } = await createInitialAccessToken(app.provider, 600);
  const variables = {
    base_url: url,
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    machine_client_id: machine.clientId,
    machine_client_secret: machine.clientSecret!,
    device_client_id: device.clientId,
    device_client_secret: device.clientSecret!,
    username: user.username,
    password: user.password,
    initial_access_token: initialAccessToken,
  };

  // Codes live 60 seconds and work once: sign in and allow right before the run, as a person pastes it.
  const code = await codeFor(url, user, { client_id: client.clientId, scope: 'profile' });
  const summary = await runCollection({ ...variables, code });
  const { stats, failures, executions } = summary.run;

  t.same(
    failures.map((f) => `${f.source?.name ?? '?'}: ${f.error.test ?? f.error.name}: ${f.error.message}`),
    [],
    'newman reports no failure',
  );
  t.same(
    executions.map((e) => e.item.name),
    REQUESTS,
    'every request ran, once, in order',
  );
  t.same(
    executions.filter((e) => e.requestError || !e.response).map((e) => `${e.item.name}: ${e.requestError?.message ?? 'no response'}`),
    [],
    'no request error',
  );
  t.equal(stats.requests.total, REQUESTS.length, 'requests sent');
  t.equal(stats.requests.failed, 0, 'requests failed');
  t.equal(stats.testScripts.total, REQUESTS.length, 'each request has its test script');
  t.equal(stats.testScripts.failed, 0, 'no test script threw');
  t.equal(stats.assertions.total, ASSERTIONS, 'assertions executed');
  t.equal(stats.assertions.failed, 0, 'assertions failed');
  t.equal(stats.assertions.pending, 0, 'assertions skipped');
  t.same(
    executions.map((e) => e.response?.code),
    [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 201, 200, 204],
    'the statuses the README shows',
  );

  t.same(
    (await app.clients.listAll()).map((c) => c.client_id).sort(),
    [client.clientId, machine.clientId, device.clientId].sort(),
    'the client it registered is deleted again',
  );
});

t.test('a failing request is reported as failed assertions (the run can fail)', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app, uniqueName('postman'));
  const client = await createClient(app);
  const summary = await runCollection(
    {
      base_url: url,
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      username: user.username,
      password: 'not-the-password',
    },
    'Password grant',
  );
  const { stats, executions } = summary.run;
  t.same(
    executions.map((e) => [e.item.name, e.response?.code]),
    [
      ['Password grant', 400],
      ['/api/me', 401],
    ],
    'only that folder ran: a wrong password, then no token',
  );
  t.equal(stats.assertions.total, 8, 'its assertions ran');
  t.ok(stats.assertions.failed >= 2, 'and failed');
  t.ok(
    executions[0]?.assertions?.some((a) => a.assertion === '200 OK' && a.error),
    'the status assertion of the password grant failed',
  );
});
