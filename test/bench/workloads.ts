import type { Client, Request } from 'autocannon';
import { signInAndConsent, Browser } from './browser.js';
import { basic, connection, FORM, form, send } from './load/http.js';
import { runCannon, type CannonSpec } from './load/autocannon.js';
import { runLoop } from './load/loop.js';
import type { LoadSettings, Measurement } from './load/measurement.js';
import { measurePasswordHashing, passwordHashLabel } from './password-rate.js';
import type { Started } from './processes.js';
import { REDIRECT_URI, type Latchkey, type Reference } from './targets.js';
import { passwordGrant, refreshTokens, tokenRequest } from './tokens.js';

export type Target = 'fastify' | 'oidc-provider' | 'latchkey' | 'in-process';

export interface BenchTargets {
  hello: Reference;
  reference: Reference;
  latchkey: Latchkey;
}

export type Outcome = Measurement | { skipped: string };

export interface Workload {
  name: string;
  target: Target;
  unit: 'req/s' | 'flows/s' | 'checks/s';
  /** The row this one is compared with ("target/name"). */
  reference?: string;
  /** Run again once the token table holds a million rows. */
  growth: boolean;
  server?: (targets: BenchTargets) => Started;
  run(targets: BenchTargets, load: LoadSettings): Promise<Outcome>;
}

export const rowKey = (target: Target, name: string) => `${target}/${name}`;

const tokenEndpoint = (baseUrl: string, clientId: string, clientSecret: string, fields: Record<string, string>) => ({
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

/** One token per connection (distinct clients' tokens), each introspected again and again. */
async function introspection(baseUrl: string, clientId: string, clientSecret: string, load: LoadSettings): Promise<Measurement> {
  const tokens = await Promise.all(
    Array.from({ length: load.connections }, () => tokenRequest(baseUrl, { clientId, clientSecret }, CLIENT_CREDENTIALS)),
  );
  const requests = tokens.map(({ access_token }) => ({
    method: 'POST',
    path: '/oauth/introspect',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM },
    body: form({ token: access_token }),
  }));
  return runCannon(perConnection(baseUrl, requests), load);
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

/** Per connection: each request presents the newest refresh token its connection received. */
function refreshChains(latchkey: Latchkey, tokens: string[]) {
  const { clientId, clientSecret } = latchkey.client;
  return () => ({
    url: `${latchkey.url}/oauth/token`,
    setupClient(client: Client) {
      let current = tokens.pop();
      if (!current) throw new Error('not enough refresh tokens for the connections');
      client.setRequests([
        {
          method: 'POST',
          path: '/oauth/token',
          headers: { authorization: basic(clientId, clientSecret), 'content-type': FORM },
          setupRequest: (request) => ({ ...request, body: form({ grant_type: 'refresh_token', refresh_token: current! }) }),
          onResponse: (status, body) => {
            if (status === 200) current = (JSON.parse(body) as { refresh_token: string }).refresh_token;
          },
        },
      ]);
    },
  });
}

/** A signed-in user who already consented: authorize → code at the redirect URI → token. */
async function codeFlowUser(latchkey: Latchkey, index: number) {
  const browser = new Browser(connection(), latchkey.url);
  const { clientId, clientSecret } = latchkey.client;
  const authorize = () =>
    `${latchkey.url}/oauth/authorize?${form({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'profile', state: `s${index}-${Math.random().toString(36).slice(2)}` })}`;
  await signInAndConsent(browser, authorize(), REDIRECT_URI, latchkey.user);
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
    run: (t, load) => runCannon({ url: `${t.hello.url}/hello` }, load),
  },
  {
    name: 'client_credentials',
    target: 'oidc-provider',
    unit: 'req/s',
    growth: false,
    server: (t) => t.reference.server,
    run: (t, load) => runCannon(tokenEndpoint(t.reference.url, t.latchkey.client.clientId, t.latchkey.client.clientSecret, CLIENT_CREDENTIALS), load),
  },
  {
    name: 'client_credentials',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('oidc-provider', 'client_credentials'),
    growth: true,
    server: latchkeyServer,
    run: (t, load) => runCannon(tokenEndpoint(t.latchkey.url, t.latchkey.client.clientId, t.latchkey.client.clientSecret, CLIENT_CREDENTIALS), load),
  },
  {
    name: 'introspection',
    target: 'oidc-provider',
    unit: 'req/s',
    growth: false,
    server: (t) => t.reference.server,
    run: (t, load) => introspection(t.reference.url, t.latchkey.client.clientId, t.latchkey.client.clientSecret, load),
  },
  {
    name: 'introspection',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('oidc-provider', 'introspection'),
    growth: true,
    server: latchkeyServer,
    run: (t, load) => introspection(t.latchkey.url, t.latchkey.client.clientId, t.latchkey.client.clientSecret, load),
  },
  {
    name: '/api/me',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('fastify', 'hello'),
    growth: true,
    server: latchkeyServer,
    async run(t, load) {
      const missing = needsPassword(t.latchkey) ?? (await apiMeAvailable(t.latchkey));
      if (missing) return { skipped: missing };
      const tokens = await userAccessTokens(t.latchkey, load.connections);
      const requests = tokens.map((token) => ({ method: 'GET', path: '/api/me', headers: { authorization: `Bearer ${token}` } }));
      return runCannon(perConnection(t.latchkey.url, requests), load);
    },
  },
  {
    name: 'refresh_token (rotation)',
    target: 'latchkey',
    unit: 'req/s',
    growth: true,
    server: latchkeyServer,
    async run(t, load) {
      const missing = needsPassword(t.latchkey) ?? (t.latchkey.grantTypes.has('refresh_token') ? undefined : 'refresh_token is not offered');
      if (missing) return { skipped: missing };
      // Each connection needs a chain of its own, for the warm-up and again for the measured run.
      const warm = load.warmup > 0 ? await refreshTokens(t.latchkey.url, t.latchkey.client, t.latchkey.user, load.connections) : [];
      const measured = await refreshTokens(t.latchkey.url, t.latchkey.client, t.latchkey.user, load.connections);
      let phase = 0;
      return runCannon(() => refreshChains(t.latchkey, phase++ === 0 && load.warmup > 0 ? warm : measured)(), load);
    },
  },
  {
    name: passwordHashLabel(),
    target: 'in-process',
    unit: 'checks/s',
    growth: false,
    run: (_t, load) => measurePasswordHashing(load),
  },
  {
    name: 'password',
    target: 'latchkey',
    unit: 'req/s',
    reference: rowKey('in-process', passwordHashLabel()),
    growth: true,
    server: latchkeyServer,
    async run(t, load) {
      const missing = needsPassword(t.latchkey);
      if (missing) return { skipped: missing };
      const { username, password } = t.latchkey.user;
      return runCannon(
        tokenEndpoint(t.latchkey.url, t.latchkey.client.clientId, t.latchkey.client.clientSecret, { grant_type: 'password', username, password, scope: 'profile' }),
        load,
      );
    },
  },
  {
    name: 'authorization_code flow',
    target: 'latchkey',
    unit: 'flows/s',
    growth: true,
    server: latchkeyServer,
    async run(t, load) {
      const missing = await interactionsAvailable(t.latchkey);
      if (missing) return { skipped: missing };
      return runLoop((i) => codeFlowUser(t.latchkey, i), load);
    },
  },
];
