import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/**
 * docs/grafana/latchkey-dashboard.json: an importable Grafana dashboard whose every query reads
 * metrics that a real server serves at /metrics (a renamed or misspelt metric fails here).
 */

const DASHBOARD = new URL('../docs/grafana/latchkey-dashboard.json', import.meta.url);
const DATASOURCE = '${DS_PROMETHEUS}';

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  __inputs?: { name?: string; type?: string; pluginId?: string }[];
  schemaVersion?: number;
  title?: string;
  panels?: Panel[];
  templating?: { list?: { name?: string; datasource?: { type?: string; uid?: string }; definition?: string }[] };
}

/** PromQL words that are not metric names: operators and modifiers (functions are told by their "("). */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(metric, label)`) reads. What is
 * left once strings, label matchers, ranges, grouping lists, Grafana variables and numbers are
 * removed are functions (followed by "("), keywords and metric names.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals (label values, regexes)
    .replace(/\blabel_values\s*\(([^,()]*),[^()]*\)/g, '($1)') // Grafana's label_values(metric, label): the label is no metric
    .replace(/\{[^{}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries: [5m], [$__rate_interval]
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, ' ') // grouping lists: label names
    .replace(/\$\{[^}]*\}|\$\w+/g, ' '); // Grafana variables outside matchers
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.:])(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|0x[\da-f]+)\b|([a-zA-Z_:][\w:]*)(\s*\()?/gi)) {
    const [, identifier, call] = m;
    if (!identifier || call || KEYWORDS.has(identifier.toLowerCase())) continue;
    names.push(identifier);
  }
  return names;
}

/** What /metrics serves: every sample's name, and the type of the family each belongs to. */
function served(text: string): Map<string, string> {
  const types = new Map<string, string>();
  const samples = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][\w:]*) (\w+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (!line || line.startsWith('#')) continue;
    const name = /^([a-zA-Z_:][\w:]*)(?:\{|\s)/.exec(line)?.[1];
    if (!name) throw new Error(`not a sample line: ${line}`);
    // A histogram family x serves x_bucket, x_sum, x_count; a summary x and x_sum, x_count; a
    // counter is named x_total by prom-client, x (and x_total) in OpenMetrics' TYPE lines.
    const suffixed = /^(.*)_(bucket|sum|count|total|created)$/.exec(name);
    const family = types.has(name) ? name : suffixed && types.has(suffixed[1]!) ? suffixed[1]! : undefined;
    if (!family) throw new Error(`${name} has no # TYPE line`);
    const familyType = types.get(family)!;
    // How a query may read it: as a counter (through rate/increase) or as a gauge.
    const counterLike = familyType === 'counter' || ((familyType === 'histogram' || familyType === 'summary') && name !== family);
    samples.set(name, counterLike ? 'counter' : 'gauge');
  }
  return samples;
}

t.test('the extraction of metric names from PromQL', async (t) => {
  t.same(
    metricNames(
      'histogram_quantile(0.99, sum by (le, route) (rate(latchkey_http_request_duration_seconds_bucket{instance=~"$instance", route="/oauth/token"}[$__rate_interval])))',
    ),
    ['latchkey_http_request_duration_seconds_bucket'],
  );
  t.same(metricNames('sum(increase(a_total[1h])) + sum(increase(b_total[1h])) * 60 or vector(0)'), ['a_total', 'b_total']);
  t.same(metricNames('time() - max(latchkey_purge_last_run_timestamp_seconds > 0)'), ['latchkey_purge_last_run_timestamp_seconds']);
  t.same(metricNames('sum(rate(x_total[5m])) by (grant_type, token) / on(instance) group_left y'), ['x_total', 'y']);
  t.same(metricNames('label_values(latchkey_db_pool_connections, instance)'), ['latchkey_db_pool_connections']);
  t.same(metricNames('rate(process_cpu_user_seconds_total{job="process_x"}[1e3s]) > 1e-3'), ['process_cpu_user_seconds_total']);
  t.same(metricNames('latchky_tokens_issued_total'), ['latchky_tokens_issued_total'], 'a name with a misspelt prefix is still a name');
});

t.test('the dashboard', async (t) => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

  t.test('is an importable dashboard model over a Prometheus input', async (t) => {
    t.ok(dashboard.title, 'a title');
    t.ok(dashboard.schemaVersion && dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    const input = dashboard.__inputs?.find((i) => `\${${i.name}}` === DATASOURCE);
    t.same(
      input && { type: input.type, pluginId: input.pluginId },
      { type: 'datasource', pluginId: 'prometheus' },
      'the data source input',
    );
    const panels = dashboard.panels ?? [];
    t.ok(panels.length >= 10, `${panels.length} panels`);
    t.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
    for (const panel of panels) {
      const name = panel.title ?? `panel ${panel.id}`;
      t.ok(panel.title?.trim(), `${name}: a title`);
      t.ok(panel.type === 'timeseries' || panel.type === 'stat', `${name}: a timeseries or stat panel (${panel.type})`);
      t.same(panel.datasource, { type: 'prometheus', uid: DATASOURCE }, `${name}: the input's data source`);
      t.ok(panel.targets?.length, `${name}: at least one target`);
      for (const target of panel.targets ?? []) {
        t.ok(target.expr?.trim(), `${name}: a target with an expr`);
        if (target.datasource) t.same(target.datasource, { type: 'prometheus', uid: DATASOURCE }, `${name}: the target's data source`);
      }
    }
    for (const variable of dashboard.templating?.list ?? []) {
      t.same(variable.datasource, { type: 'prometheus', uid: DATASOURCE }, `variable ${variable.name}: the input's data source`);
    }
  });

  t.test('reads only metrics a running server serves', async (t) => {
    const { url, app } = await startServer(t, { env: { TOKEN_RATE_LIMIT: '3' } });
    const user = await createUser(app);
    const issued = await createClient(app, { grant_types: ['password', 'refresh_token', 'client_credentials'], response_types: [] });
    const client = { clientId: issued.clientId, clientSecret: issued.clientSecret };
    // Counters with labels exist once counted: a token of each kind, a failed password at each
    // door, an answer of the rate limit (three token requests a minute from this address).
    const password = { grant_type: 'password', username: user.username, scope: 'profile' };
    t.equal((await token(url, client, { ...password, password: user.password })).status, 200, 'a password grant');
    t.equal((await token(url, client, { ...password, password: 'wrong' })).status, 400, 'a failed password grant');
    t.equal((await token(url, client, { grant_type: 'client_credentials' })).status, 200, 'a client_credentials grant');
    t.equal((await token(url, client, { grant_type: 'client_credentials' })).status, 429, 'a rate-limited token request');
    const browser = new BrowserSession(url);
    const failed = await browser.submit(await browser.get('/'), 'Sign in', { Username: user.username, Password: 'wrong' });
    t.equal(failed.status, 401, 'a failed sign-in');
    // The server runs in this process: a full collection, forced, for the GC histogram to have a
    // sample (garbage alone does not make one happen in time on every run).
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    await new Promise((resolve) => setTimeout(resolve, 50));

    const res = await fetch(`${url}/metrics`);
    t.equal(res.status, 200);
    const metrics = served(await res.text());
    t.ok(metrics.has('latchkey_tokens_issued_total') && metrics.has('latchkey_rate_limited_total'), 'the labelled counters exist');

    const queries = [
      ...(dashboard.panels ?? []).flatMap((p) => (p.targets ?? []).map((target) => ({ where: p.title ?? '?', expr: target.expr ?? '' }))),
      ...(dashboard.templating?.list ?? []).map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? '' })),
    ];
    const used = new Set<string>();
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      t.ok(names.length, `${where}: reads a metric (${expr})`);
      for (const name of names) {
        used.add(name);
        t.match(name, /^(?:latchkey|process|nodejs)_/, `${where}: ${name} is Latchkey's or a default metric`);
        t.ok(metrics.has(name), `${where}: ${name} is served`);
        // A counter only means something as a rate or an increase, a gauge as it is.
        const read = new RegExp(`\\b(?:rate|irate|increase)\\s*\\(\\s*${name}\\s*(?:\\{[^}]*\\})?\\s*\\[`).test(expr);
        if (metrics.get(name) === 'counter') t.ok(read, `${where}: the counter ${name} through rate() or increase()`);
        else if (metrics.has(name)) t.notOk(read, `${where}: the gauge ${name} as it is, not as a rate`);
      }
    }
    t.comment(`metrics used: ${[...used].sort().join(', ')}`);
    for (const expected of [
      'latchkey_http_request_duration_seconds_bucket',
      'latchkey_tokens_issued_total',
      'latchkey_sign_in_failures_total',
      'latchkey_password_grant_failures_total',
      'latchkey_rate_limited_total',
      'latchkey_db_pool_connections',
      'latchkey_purge_runs_total',
      'latchkey_purge_deleted_rows_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      t.ok(used.has(expected), `the dashboard shows ${expected}`);
    }
  });
});
