import t, { type Test } from 'tap';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { createClient } from './helpers/fixtures.js';
import { basic, type Json } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * TOKEN_RATE_LIMIT=N: at most N token requests per minute per IP address and per client, counted
 * in the database (so across every instance that shares it); then 429 with Retry-After and a
 * JSON OAuth error. A client's budget is spent only by requests that authenticated as it.
 */

const LIMIT = 5;
let nextIp = 1;
/** A documentation address (RFC 5737) not used before in this file. */
const freshIp = () => `192.0.2.${nextIp++}`;

interface Call {
  status: number;
  retryAfter: string | null;
  body: Json;
}

async function tokenRequest(
  url: string,
  fields: Record<string, string>,
  options: { ip: string; auth?: [string, string]; multipart?: boolean },
): Promise<Call> {
  const headers: Record<string, string> = { 'x-forwarded-for': options.ip, accept: 'application/json' };
  if (options.auth) headers.authorization = basic(...options.auth);
  let body: URLSearchParams | FormData = new URLSearchParams(fields);
  if (options.multipart) {
    body = new FormData();
    for (const [name, value] of Object.entries(fields)) body.append(name, value);
  }
  const res = await fetch(`${url}/oauth/token`, { method: 'POST', headers, body });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

function refused(t: Test, call: Call, what: string) {
  t.equal(call.status, 429, `${what}: 429`);
  t.equal(call.body.error, 'slow_down', `${what}: a JSON OAuth error`);
  const wait = Number(call.retryAfter);
  t.ok(wait >= 1 && wait <= 60, `${what}: Retry-After ${call.retryAfter}`);
}

async function limitedServer(t: Test, fresh?: TestServer['fresh']) {
  return startServer(t, { env: { TOKEN_RATE_LIMIT: String(LIMIT), TRUST_PROXY: 'true' }, ...(fresh ? { fresh } : {}) });
}

async function ccClient(server: TestServer, overrides = {}) {
  const issued = await createClient(server.app, { grant_types: ['client_credentials'], response_types: [], ...overrides });
  return { id: issued.clientId, secret: issued.clientSecret ?? '' };
}

t.test('per IP address', async (t) => {
  const server = await limitedServer(t);
  const client = await ccClient(server);
  const ip = freshIp();
  for (let i = 0; i < LIMIT; i++) {
    const call = await tokenRequest(
      server.url,
      { grant_type: 'client_credentials' },
      { ip, auth: [client.id, client.secret], multipart: i % 2 === 1 },
    );
    t.equal(call.status, 200, `request ${i + 1} from the address`);
  }
  const other = await ccClient(server);
  refused(
    t,
    await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip, auth: [other.id, other.secret] }),
    'the next request from that address, whatever the client',
  );
  refused(t, await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip }), 'even without credentials');
  t.equal(
    (await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [other.id, other.secret] })).status,
    200,
    'another address is served',
  );
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /latchkey_rate_limited_total\{limit="token_ip"\} 2/, 'counted in /metrics');
});

t.test('per client, from many addresses (Basic and client_secret_post)', async (t) => {
  const server = await limitedServer(t);
  const basicClient = await ccClient(server);
  const postClient = await ccClient(server, { token_endpoint_auth_method: 'client_secret_post' });
  for (let i = 0; i < LIMIT; i++) {
    t.equal(
      (await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [basicClient.id, basicClient.secret] }))
        .status,
      200,
    );
    const viaBody = { grant_type: 'client_credentials', client_id: postClient.id, client_secret: postClient.secret };
    t.equal((await tokenRequest(server.url, viaBody, { ip: freshIp(), multipart: i % 2 === 0 })).status, 200);
  }
  refused(
    t,
    await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [basicClient.id, basicClient.secret] }),
    'a Basic client over its budget',
  );
  refused(
    t,
    await tokenRequest(
      server.url,
      { grant_type: 'client_credentials', client_id: postClient.id, client_secret: postClient.secret },
      { ip: freshIp() },
    ),
    'a client_secret_post client over its budget',
  );
  const third = await ccClient(server);
  t.equal(
    (await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [third.id, third.secret] })).status,
    200,
    'another client is served',
  );
});

t.test("nobody spends a client's budget by naming it", async (t) => {
  const server = await limitedServer(t);
  const victim = await ccClient(server);
  for (let i = 0; i < LIMIT * 2; i++) {
    const call = await tokenRequest(
      server.url,
      { grant_type: 'client_credentials' },
      { ip: freshIp(), auth: [victim.id, 'a guessed secret'] },
    );
    t.equal(call.status, 401, `a request with a wrong secret is refused as invalid_client (${i + 1})`);
  }
  t.equal(
    (await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [victim.id, victim.secret] })).status,
    200,
    'the real client still has its budget',
  );
});

t.test(
  'one budget across instances sharing the database',
  { skip: onPostgres ? false : 'needs PostgreSQL (the embedded database admits one process)' },
  async (t) => {
    const fresh = await freshDatabase(t);
    const one = await limitedServer(t, fresh);
    const two = await limitedServer(t, fresh);
    const client = await ccClient(one);
    for (let i = 0; i < LIMIT; i++) {
      const server = i % 2 ? two : one;
      t.equal(
        (await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [client.id, client.secret] })).status,
        200,
      );
    }
    refused(
      t,
      await tokenRequest(two.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [client.id, client.secret] }),
      'the client at the second instance',
    );
    refused(
      t,
      await tokenRequest(one.url, { grant_type: 'client_credentials' }, { ip: freshIp(), auth: [client.id, client.secret] }),
      'the client at the first instance',
    );
  },
);

t.test('off by default', async (t) => {
  const server = await startServer(t, { env: { TRUST_PROXY: 'true' } });
  const client = await ccClient(server);
  const ip = freshIp();
  for (let i = 0; i < LIMIT * 3; i++) {
    const call = await tokenRequest(server.url, { grant_type: 'client_credentials' }, { ip, auth: [client.id, client.secret] });
    if (call.status !== 200) t.fail(`request ${i + 1} refused: ${call.status}`);
  }
  t.pass(`${LIMIT * 3} requests from one address, all served`);
});
