import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { AdapterPayload } from 'oidc-provider';
import { startPurgeJob } from '../src/db/purge.js';
import { KyselyAdapter } from '../src/oidc/adapter/kysely-adapter.js';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/** /metrics: Prometheus text with the numbers an operator watches. */

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** The value of one series, e.g. value(text, 'latchkey_tokens_issued_total', { grant_type: 'password' }). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

t.test('metrics', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const issued = await createClient(app, { grant_types: ['password', 'refresh_token', 'client_credentials'], response_types: [] });
  const client = { clientId: issued.clientId, clientSecret: issued.clientSecret };

  t.test('Prometheus text format', async (t) => {
    const res = await fetch(`${url}/metrics`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'latchkey_http_request_duration_seconds',
      'latchkey_tokens_issued_total',
      'latchkey_sign_in_failures_total',
      'latchkey_password_grant_failures_total',
      'latchkey_db_pool_connections',
      'latchkey_purge_runs_total',
      'latchkey_rate_limited_total',
      'process_cpu_seconds_total',
    ]) {
      t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
    }
    t.ok(value(text, 'latchkey_db_pool_connections', { state: 'total' })! >= 1, 'database pool use');
  });

  t.test('tokens issued, by grant type', async (t) => {
    for (let i = 0; i < 2; i++) t.equal((await token(url, client, { grant_type: 'client_credentials' })).status, 200);
    const byPassword = await token(url, client, {
      grant_type: 'password',
      username: user.username,
      password: user.password,
      scope: 'profile',
    });
    t.equal(byPassword.status, 200);
    t.equal((await token(url, client, { grant_type: 'refresh_token', refresh_token: byPassword.body.refresh_token })).status, 200);
    const text = await scrape(url);
    t.equal(value(text, 'latchkey_tokens_issued_total', { grant_type: 'client_credentials', token: 'access_token' }), 2);
    t.equal(value(text, 'latchkey_tokens_issued_total', { grant_type: 'password', token: 'access_token' }), 1);
    t.equal(value(text, 'latchkey_tokens_issued_total', { grant_type: 'password', token: 'refresh_token' }), 1);
    t.equal(
      value(text, 'latchkey_tokens_issued_total', { grant_type: 'refresh_token', token: 'access_token' }),
      1,
      'a refresh counts as refresh_token',
    );
    t.equal(
      value(text, 'latchkey_tokens_issued_total', { grant_type: 'refresh_token', token: 'refresh_token' }),
      1,
      'the rotated refresh token',
    );
  });

  t.test('password-grant and sign-in failures', async (t) => {
    t.equal(
      (await token(url, client, { grant_type: 'password', username: user.username, password: 'wrong', scope: 'profile' })).status,
      400,
    );
    const browser = new BrowserSession(url);
    const failed = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: 'wrong' });
    t.equal(failed.status, 401);
    const text = await scrape(url);
    t.equal(value(text, 'latchkey_password_grant_failures_total'), 1);
    t.equal(value(text, 'latchkey_sign_in_failures_total'), 1);
    t.equal(value(text, 'latchkey_audit_events_total', { event: 'sign_in.failure' }), 1);
  });

  t.test('request durations by route pattern and status, never by raw URL', async (t) => {
    const marker = randomBytes(8).toString('hex');
    await fetch(`${url}/oauth/authorize?client_id=${marker}&response_type=code`, { redirect: 'manual' });
    await fetch(`${url}/nothing-here/${marker}`);
    await fetch(`${url}/clients/${marker}`, { redirect: 'manual' });
    await fetch(`${url}/oauth/register/${marker}`);
    await fetch(`${url}/oauth/${marker}`);
    const text = await scrape(url);
    t.notOk(text.includes(marker), 'no path or query value became a label');
    t.ok(
      value(text, 'latchkey_http_request_duration_seconds_count', { route: '/oauth/token', method: 'POST', status_code: '200' })! >= 4,
      'the token endpoint, by its path',
    );
    t.ok(
      value(text, 'latchkey_http_request_duration_seconds_count', { route: '/oauth/authorize', method: 'GET' })! >= 1,
      'the authorization endpoint',
    );
    t.ok(
      value(text, 'latchkey_http_request_duration_seconds_count', { route: '/clients/:clientId', method: 'GET' })! >= 1,
      "a page, by its route's pattern",
    );
    t.ok(
      value(text, 'latchkey_http_request_duration_seconds_count', { route: '/oauth/register/:clientId' })! >= 1,
      'a provider path with an id',
    );
    t.ok(value(text, 'latchkey_http_request_duration_seconds_count', { route: '/oauth/*' })! >= 1, 'an unknown provider path');
    t.ok(value(text, 'latchkey_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })! >= 1, 'an unknown page');
    const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    t.ok(routes.size < 30, `a bounded set of route labels (${routes.size})`);
  });

  t.test('purge job runs', async (t) => {
    const tokens = new KyselyAdapter('AccessToken', app.db);
    const expired = { jti: 'x', kind: 'AccessToken', clientId: 'c', iat: 1, exp: 2 } as AdapterPayload;
    await tokens.upsert(`expired-${randomBytes(4).toString('hex')}`, expired, -60);
    const stop = startPurgeJob(app.db, app.log, 50, (deleted) => app.metrics.purgeRun(deleted));
    t.teardown(stop);
    const deadline = Date.now() + 10_000;
    let text = await scrape(url);
    while (!value(text, 'latchkey_purge_runs_total') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await scrape(url);
    }
    stop();
    t.ok(value(text, 'latchkey_purge_runs_total')! >= 1, 'runs counted');
    t.ok(value(text, 'latchkey_purge_deleted_rows_total')! >= 1, 'deleted rows counted');
    t.ok(value(text, 'latchkey_purge_last_run_timestamp_seconds')! > Date.now() / 1000 - 60, 'when it last ran');
  });
});
