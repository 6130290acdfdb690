import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { ClientInput } from '../../src/oidc/client-metadata.js';
import { serverThreads } from './password-rate.js';
import { freePort, serverProcesses, startProcess, waitUntilUp, type Started } from './processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
export const REDIRECT_URI = 'http://127.0.0.1/bench-callback';
export const ACCESS_TOKEN_TTL = 3600;

export interface Credentials {
  clientId: string;
  clientSecret: string;
}

export interface Latchkey {
  url: string;
  server: Started;
  client: Credentials;
  user: { username: string; password: string };
  /** People who sign in at once in the password workload, one per connection (a person's own sign-ins are limited to 10 checks at a time). */
  people: Array<{ username: string; password: string }>;
  /** Grant types the server offers (discovery), to skip what is not built yet. */
  grantTypes: Set<string>;
  /** libuv threads across its processes: the password checks it can run at once. */
  threads: number;
}

export interface Reference {
  url: string;
  server: Started;
}

/** (a) bare Fastify "hello": the HTTP ceiling. */
export async function startHello(): Promise<Reference> {
  const port = await freePort();
  const server = startProcess(
    'fastify hello',
    [...runtimeFlags(), '--import', 'tsx', here('references/fastify-hello.ts'), String(port)],
    {},
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(server, `${url}/hello`);
  return { url, server };
}

/** (b) oidc-provider alone, in memory, with the client Latchkey has (minus grants it lacks). */
export async function startOidcReference(client: Credentials, grantTypes: string[]): Promise<Reference> {
  const port = await freePort();
  const metadata = {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    grant_types: grantTypes.filter((g) => g !== 'password'),
    redirect_uris: [REDIRECT_URI],
    response_types: ['code'],
    scope: 'openid profile',
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const options = JSON.stringify({ port, client: metadata, accessTokenTtl: ACCESS_TOKEN_TTL });
  const server = startProcess(
    'oidc-provider reference',
    [...runtimeFlags(), '--import', 'tsx', here('references/oidc-provider.ts'), options],
    {},
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(server, `${url}/.well-known/openid-configuration`);
  return { url, server };
}

/**
 * Migrates the bench database and creates the bench's user and client through the app's own
 * stores (in this process), then closes. Returns what the server offers, to choose the grants.
 */
const PEOPLE = 64;

async function seed(databaseUrl: string) {
  const app = await buildApp(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }));
  try {
    const discovery = (await app.inject({ url: '/.well-known/openid-configuration' })).json() as { grant_types_supported: string[] };
    const offered = new Set(discovery.grant_types_supported);
    const wanted = ['client_credentials', 'authorization_code', 'refresh_token', 'password'].filter((g) => offered.has(g));
    const person = () => ({ username: `bench-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('base64url') });
    const user = person();
    await app.accounts.create(user.username, user.password);
    const people = Array.from({ length: PEOPLE }, person);
    for (const p of people) await app.accounts.create(p.username, p.password);
    const input: ClientInput = {
      client_name: 'bench',
      redirect_uris: [REDIRECT_URI],
      grant_types: wanted,
      response_types: wanted.includes('authorization_code') ? ['code'] : [],
      scope: 'openid profile',
      token_endpoint_auth_method: 'client_secret_basic',
    };
    const issued = await app.clients.create(input);
    return { user, people, client: { clientId: issued.clientId, clientSecret: issued.clientSecret! }, grantTypes: new Set(wanted) };
  } finally {
    await app.close();
  }
}

/** The node arguments of `npm start` (package.json), so that the bench starts the server as it is started. */
function startArguments(): string[] {
  const start = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [command, ...args] = start.trim().split(/\s+/);
  if (command !== 'node' || args.at(-1) !== 'dist/main.js') throw new Error(`npm start is not "node [flags] dist/main.js": ${start}`);
  return [...args.slice(0, -1), `${ROOT}dist/main.js`];
}

/** npm start's runtime flags (its young generation): the references run with them too, like for like. */
const runtimeFlags = () => startArguments().slice(0, -1);

/** (c) Latchkey as in production (`npm start`'s command), its own process(es), on the bench database. */
export async function startLatchkey(databaseUrl: string, workers: string): Promise<Latchkey> {
  const seeded = await seed(databaseUrl);
  const port = await freePort();
  const server = startProcess('latchkey', startArguments(), {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    WORKERS: workers,
    ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilUp(server, `${url}/healthz`);
  await waitForWorkers(server, workers === 'auto' ? availableParallelism() : Number(workers));
  return { url, server, threads: serverThreads(workers), ...seeded };
}

/** With WORKERS > 1, the first answer comes from the first worker up: wait for the others too. */
async function waitForWorkers(server: Started, workers: number): Promise<void> {
  if (workers <= 1) return;
  const deadline = Date.now() + 60_000;
  while (serverProcesses(server.pid).length < workers + 1) {
    if (Date.now() > deadline) throw new Error(`latchkey did not start ${workers} workers:\n${server.output()}`);
    await sleep(200);
  }
  await sleep(2000); // a forked worker still has to open its database and listen
}
