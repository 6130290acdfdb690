import type { Client, Request } from 'autocannon';
import { signInAndConsent, Browser } from './browser.js';
import { basic, connection, FORM, form, send } from './load/http.js';
import { cannonDriver, type CannonSpec } from './load/autocannon.js';
import { loopDriver } from './load/loop.js';
import type { Driver } from './load/measurement.js';
import { passwordHashing, passwordHashLabel } from './password-rate.js';
import type { Started } from './processes.js';
import { REDIRECT_URI, type Credentials, type Latchkey, type Reference } from './targets.js';
import { passwordGrant, refreshTokens, tokenRequest } from './tokens.js';

export type Target = 'fastify' | 'oidc-provider' | 'latchkey' | 'in-process';

export interface BenchTargets {
  hello: Reference;
  reference: Reference;
  latchkey: Latchkey;
}

export interface Workload {
  name: string;
  target: Target;
  unit: 'req/s' | 'flows/s' | 'checks/s';
  /** The row this one is compared with ("target/name"): measured in alternating rounds with it. */
  reference?: string;
  /** Operations that take seconds (password checks): fewer, longer rounds. */
  slow?: boolean;
  /** Run again once the token table holds a million rows. */
  growth: boolean;
  server?: (targets: BenchTargets) => Started;
  /** Everything a run needs (tokens, signed-in users), or why it cannot run yet. */
  prepare(targets: BenchTargets, connections: number): Promise<Driver | { skipped: string }>;
}

export const rowKey = (target: Target, name: string) => `${target}/${name}`;

const tokenEndpoint = (baseUrl: string, { clientId, clientSecret }: Credentials, fields: Record<string, string>): CannonSpec => ({
  url: `${baseUrl}/oauth/token`,
  method: 'POST',
  headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM },
  body: form(fields),
});

const CLIENT_CREDENTIALS = { grant_type: 'client_credentials', scope: 'profile' };

/** Each connection sends its own request (its own token), as distinct clients would. */
function perConnection(baseUrl: string, requests: Request[]): CannonSpec {
  let next = 0;
  return {
    url: baseUrl,
    setupClient(client: Client) {
      client.setRequests([requests[next++ % requests.length]!]);
    },
  };
}

/** One token per connection (as many clients would hold), each introspected again and again. */
async function introspection(baseUrl: string, client: Credentials, connections: number): Promise<Driver> {
  const tokens = await Promise.all(Array.from({ length: connections }, () => tokenRequest(baseUrl, client, CLIENT_CREDENTIALS)));
  const requests = tokens.map(({ access_token }) => ({
    method: 'POST',
    path: '/oauth/introspect',
    headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': FORM },
    body: form({ token: access_token }),
  }));
  return cannonDriver(() => perConnection(baseUrl, requests), connections);
}

/** `count` access tokens of the bench user (password grants, a few at a time). */
async function userAccessTokens(latchkey: Latchkey, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const worker = async () => {
    while (tokens.length < count) tokens.push((await passwordGrant(latchkey.url, latchkey.client, latchkey.user)).access_token);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return tokens.slice(0, count);
}

const needsPassword = (latchkey: Latchkey) => (latchkey.grantTypes.has('password') ? undefined : 'the password grant is not built yet');

async function apiMeAvailable(latchkey: Latchkey): Promise<string | undefined> {
  const agent = connection();
  try {
    const res = await send(agent, `${latchkey.url}/api/me`);
    return res.status === 404 ? '/api/me is not built yet' : undefined;
  } finally {
    agent.destroy();
  }
}

/**
 * Per connection, a refresh-token chain of its own: each request presents the newest refresh
 * token its connection received. A run leaves its chains' last tokens in flight, so every run
 * gets new chains (password grants, before the run starts).
 */
function refreshChains(latchkey: Latchkey, connections: number): Driver {
  const { clientId, clientSecret } = latchkey.client;
  return cannonDriver(async () => {
    const tokens = await refreshTokens(latchkey.url, latchkey.client, latchkey.user, connections);
    return {
      url: `${latchkey.url}/oauth/token`,
      setupClient(client: Client) {
        let current = tokens.pop()!;
        client.setRequests([
          {
            method: 'POST',
            path: '/oauth/token',
            headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM },
            setupRequest: (request) => ({ ...request, body: form({ grant_type: 'refresh_token', refresh_token: current }) }),
            onResponse: (status, body) => {
              if (status === 200) current = (JSON.parse(body) as { refresh_token: string }).refresh_token;
            },
          },
        ]);
      },
    };
  }, connections);
}

/** A signed-in person who already consented: authorize → code at the redirect URI → token. */
async function codeFlowUser(latchkey: Latchkey, index: number) {
  const browser = new Browser(connection(), latchkey.url);
  const { clientId, clientSecret } = latchkey.client;
  const authorize = () =>
    `${latchkey.url}/oauth/authorize?${form({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'profile', state: `s${index}-${Math.random().toString(36).slice(2)}` })}`;
  // A person per connection: one person's sign-ins are limited to 10 checks at a time.
  await signInAndConsent(browser, authorize(), REDIRECT_URI, latchkey.people[index % latchkey.people.length]!);
  return {
    async step() {
      const res = await browser.get(authorize());
      const to = typeof res.headers.location === 'string' ? new URL(res.headers.location) : undefined;
      const code = to && to.toString().startsWith(REDIRECT_URI) ? to.searchParams.get('code') : null;
      if (!code) throw new Error(`authorize answered ${res.status} without a code`);
      const tokens = await send(browser.agent, `${latchkey.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM },
        body: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
      });
      if (tokens.status !== 200 || !tokens.body.includes('"access_token"')) throw new Error(`code exchange answered ${tokens.status}`);
    },
    close: () => browser.agent.destroy(),
  };
}

async function interactionsAvailable(latchkey: Latchkey): Promise<string | undefined> {
  if (!latchkey.grantTypes.has('authorization_code')) return 'the authorization_code grant is not offered';
  const browser = new Browser(connection(), latchkey.url);
  try {
    const query = form({ response_type: 'code', client_id: latchkey.client.clientId, redirect_uri: REDIRECT_URI, scope: 'profile' });
    const first = await browser.get(`${latchkey.url}/oauth/authorize?${query}`);
    const to = typeof first.headers.location === 'string' ? first.headers.location : '';
    if (!to.includes('/interaction/')) return `authorize did not lead to an interaction (${first.status})`;
    const page = await browser.get(to);
    return page.status === 404 ? 'the sign-in and consent pages are not built yet' : undefined;
  } finally {
    browser.agent.destroy();
  }
}

const latchkeyServer = (t: BenchTargets) => t.latchkey.server;

export const WORKLOADS: Workload[] = [
  {
    name: 'hello',
    target: 'fastify',
    unit: 'req/s',
    growth: false,
    server: (t) => t.hello.server,
    prepare: async (t, connections) => cannonDriver(() => ({ url: `${t.hello.url}/hello` }), connections),
  },
  {
    name: 'client_credentials',
    target: 'oidc-provider',
    unit: 'req/s',
    growth: false,
    server: (t) => t.reference.server,
    prepare: async (t, connections) =>
      cannonDriver(() => tokenEndpoint(t.reference.url, t.latchkey.client, CLIENT_CREDENTIALS), connections),
  },
  {
    name: 'client_credentials',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('oidc-provider', 'client_credentials'),
    growth: true,
    server: latchkeyServer,
    prepare: async (t, connections) =>
      cannonDriver(() => tokenEndpoint(t.latchkey.url, t.latchkey.client, CLIENT_CREDENTIALS), connections),
  },
  {
    name: 'introspection',
    target: 'oidc-provider',
    unit: 'req/s',
    growth: false,
    server: (t) => t.reference.server,
    prepare: (t, connections) => introspection(t.reference.url, t.latchkey.client, connections),
  },
  {
    name: 'introspection',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('oidc-provider', 'introspection'),
    growth: true,
    server: latchkeyServer,
    prepare: (t, connections) => introspection(t.latchkey.url, t.latchkey.client, connections),
  },
  {
    name: 'GET /healthz (no database)',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('fastify', 'hello'),
    growth: false,
    server: latchkeyServer,
    prepare: async (t, connections) => cannonDriver(() => ({ url: `${t.latchkey.url}/healthz` }), connections),
  },
  {
    name: '/api/me',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('fastify', 'hello'),
    growth: true,
    server: latchkeyServer,
    async prepare(t, connections) {
      const missing = needsPassword(t.latchkey) ?? (await apiMeAvailable(t.latchkey));
      if (missing) return { skipped: missing };
      const tokens = await userAccessTokens(t.latchkey, connections);
      const requests = tokens.map((token) => ({ method: 'GET', path: '/api/me', headers: { authorization: `Bearer ${token}` } }));
      return cannonDriver(() => perConnection(t.latchkey.url, requests), connections);
    },
  },
  {
    name: 'refresh_token (rotation)',
    target: 'latchkey',
    unit: 'req/s',
    growth: true,
    server: latchkeyServer,
    async prepare(t, connections) {
      const missing =
        needsPassword(t.latchkey) ?? (t.latchkey.grantTypes.has('refresh_token') ? undefined : 'refresh_token is not offered');
      return missing ? { skipped: missing } : refreshChains(t.latchkey, connections);
    },
  },
  {
    name: passwordHashLabel(),
    target: 'in-process',
    unit: 'checks/s',
    slow: true,
    growth: false,
    prepare: (t, connections) => passwordHashing(connections, t.latchkey.threads),
  },
  {
    name: 'password',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('in-process', passwordHashLabel()),
    slow: true,
    growth: true,
    server: latchkeyServer,
    async prepare(t, connections) {
      const missing = needsPassword(t.latchkey);
      if (missing) return { skipped: missing };
      // One person per connection, as many people signing in at once.
      const { clientId, clientSecret } = t.latchkey.client;
      const requests = t.latchkey.people.map(({ username, password }) => ({
        method: 'POST',
        path: '/oauth/token',
        headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM },
        body: form({ grant_type: 'password', username, password, scope: 'profile' }),
      }));
      return cannonDriver(() => perConnection(t.latchkey.url, requests), connections);
    },
  },
  {
    name: 'authorization_code flow',
    target: 'latchkey',
    unit: 'flows/s',
    growth: true,
    server: latchkeyServer,
    async prepare(t, connections) {
      const missing = await interactionsAvailable(t.latchkey);
      return missing ? { skipped: missing } : loopDriver((i) => codeFlowUser(t.latchkey, i), connections);
    },
  },
];
