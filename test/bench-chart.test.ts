import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { chartSvg, writeChart } from './bench/chart.js';
import type { Row } from './bench/report.js';

/** test/bench/chart.ts: the bench's rows as a standalone SVG bar chart (npm run bench writes it beside its JSON). */

const measured = (rate: number) => ({ rate, p50: 1.5, p99: 5.5, errors: 0, operations: Math.round(rate * 10), seconds: 10 });
const HASH = 'argon2id m=19456 <&> t=2';

/** Rows as run.ts makes them: references, then Latchkey's rows with their ratio to them. */
const ROWS: Row[] = [
  { key: 'fastify/hello', workload: 'hello', target: 'fastify', phase: 'empty', unit: 'req/s', result: measured(39749.6) },
  {
    key: 'latchkey/GET /healthz (no database)',
    workload: 'GET /healthz (no database)',
    target: 'latchkey',
    phase: 'empty',
    unit: 'req/s',
    result: measured(28640.8),
    reference: 'fastify hello',
    ratio: 28640.8 / 39749.6,
  },
  {
    key: 'latchkey//api/me',
    workload: '/api/me',
    target: 'latchkey',
    phase: 'empty',
    unit: 'req/s',
    result: measured(14838.07),
    reference: 'fastify hello',
    ratio: 14838.07 / 39749.6,
  },
  {
    key: 'oidc-provider/client_credentials',
    workload: 'client_credentials',
    target: 'oidc-provider',
    phase: 'empty',
    unit: 'req/s',
    result: measured(5296.75),
  },
  {
    key: 'latchkey/client_credentials',
    workload: 'client_credentials',
    target: 'latchkey',
    phase: 'empty',
    unit: 'req/s',
    result: measured(3721.46),
    reference: 'oidc-provider client_credentials',
    ratio: 3721.46 / 5296.75,
  },
  {
    key: 'latchkey/refresh_token (rotation)',
    workload: 'refresh_token (rotation)',
    target: 'latchkey',
    phase: 'empty',
    unit: 'req/s',
    result: measured(1771.25),
  },
  { key: `in-process/${HASH}`, workload: HASH, target: 'in-process', phase: 'empty', unit: 'checks/s', result: measured(12.04) },
  {
    key: 'latchkey/password',
    workload: 'password',
    target: 'latchkey',
    phase: 'empty',
    unit: 'req/s',
    result: measured(11.477),
    reference: `in-process ${HASH}`,
    ratio: 11.477 / 12.04,
  },
  {
    key: 'latchkey/code <&> flow',
    workload: 'code <&> flow',
    target: 'latchkey',
    phase: 'empty',
    unit: 'flows/s',
    result: measured(637.1),
  },
];

/** The rates as the chart must print them (as the text table does). */
const RATES = ['39750', '28641', '14838', '5297', '3721', '1771', '12.0', '11.5', '637'];
const WORKLOADS = ['GET /healthz (no database)', '/api/me', 'client_credentials', 'refresh_token (rotation)', 'password', 'code <&> flow'];
const escaped = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Every element closed in order, nothing but entities after an "&", no "<" or ">" outside a tag. */
function wellFormed(t: Test, svg: string): void {
  const open: string[] = [];
  let problem: string | undefined;
  const outside = svg.replace(
    /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g,
    (_, close: string, name: string, _a, self: string) => {
      if (close) {
        const last = open.pop();
        if (last !== name) problem ??= `</${name}> closes <${last}>`;
      } else if (!self) open.push(name);
      return '';
    },
  );
  t.notOk(problem, 'tags close in order');
  t.same(open, [], 'every tag is closed');
  t.notMatch(outside, /[<>]/, 'no stray < or > (every tag and attribute parsed)');
  t.notMatch(svg, /&(?!(?:amp|lt|gt|quot|#\d+);)/, 'every & starts an entity');
}

/** Each group's markup, by its workload (as written in its data-workload attribute). */
function groups(svg: string): Map<string, string> {
  const found = new Map<string, string>();
  const starts = [...svg.matchAll(/<g class="group" data-workload="([^"]*)">/g)];
  starts.forEach((m, i) => found.set(m[1]!, svg.slice(m.index, starts[i + 1]?.index ?? svg.length)));
  return found;
}

t.test('a chart of one run', async (t) => {
  const svg = chartSvg(ROWS, {
    date: '2026-12-04T19:22:39.189Z',
    machine: { cores: 2, cpu: 'AMD EPYC', node: 'v24.21.0', postgres: '15.20' },
  });
  t.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'an SVG document');
  t.match(svg, /^<svg[^>]* width="900"[^>]* viewBox="0 0 900 \d+"/, '900 px wide');
  t.ok(svg.trimEnd().endsWith('</svg>'), 'closed');
  t.equal((svg.match(/<g[\s>]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length, 'as many <g> as </g>');
  wellFormed(t, svg);

  const byWorkload = groups(svg);
  t.same([...byWorkload.keys()], WORKLOADS.map(escaped), "one group per workload Latchkey ran, in the table's order");
  for (const name of WORKLOADS) t.ok(svg.includes(escaped(name)), `names ${name}`);
  for (const rate of RATES) t.ok(svg.includes(`>${rate}</text>`), `writes the rate ${rate}`);
  t.match(svg, /Latchkey/, 'a legend names Latchkey');
  for (const reference of ['bare Fastify route', 'oidc-provider, in memory', 'password hash, in-process'])
    t.match(svg, new RegExp(`<g class="legend">[^]*>${reference}</text>[^]*?</g>`), `the legend names ${reference}`);

  t.test('escapes text', async (t) => {
    t.notOk(svg.includes('<&>'), 'no raw <&>');
    t.ok(svg.includes('code &lt;&amp;&gt; flow'), "a workload's name");
    t.ok(svg.includes(escaped(HASH)), "a reference's name (in its bar's title)");
  });

  t.test('each reference beside Latchkey, before it', async (t) => {
    const expected: Record<string, string[]> = {
      'GET /healthz (no database)': ['fastify', 'latchkey'],
      '/api/me': ['fastify', 'latchkey'],
      client_credentials: ['oidc-provider', 'latchkey'],
      'refresh_token (rotation)': ['latchkey'],
      password: ['in-process', 'latchkey'],
      'code <&> flow': ['latchkey'],
    };
    for (const [name, targets] of Object.entries(expected)) {
      const group = byWorkload.get(escaped(name)) ?? '';
      t.same(
        [...group.matchAll(/class="bar" data-target="([^"]*)"/g)].map((m) => m[1]),
        targets,
        `${name}: ${targets.join(', then ')}`,
      );
    }
  });

  t.test("the ratio over Latchkey's bar", async (t) => {
    for (const [name, ratio] of [
      ['/api/me', '0.37×'],
      ['client_credentials', '0.70×'],
      ['password', '0.95×'],
    ] as const) {
      const latchkeyBar = /<g class="bar" data-target="latchkey"[^]*?<\/g>/.exec(byWorkload.get(name) ?? '')?.[0] ?? '';
      t.ok(latchkeyBar.includes(`>${ratio}</text>`), `${name}: ${ratio}`);
      const rate = /class="rate"[^>]*>([^<]*)</.exec(latchkeyBar)?.[1];
      const ratioY = Number(/<text x="[^"]*" y="([^"]*)" class="ratio"/.exec(latchkeyBar)?.[1]);
      const rateY = Number(/<text x="[^"]*" y="([^"]*)" class="rate"/.exec(latchkeyBar)?.[1]);
      t.ok(ratioY < rateY, `${name}: above the rate (${rate})`);
    }
    t.notMatch(byWorkload.get('refresh_token (rotation)') ?? '', /class="ratio"/, 'no ratio without a reference');
  });
});

t.test('a run with the token table grown, and a skipped row', async (t) => {
  const grown: Row[] = [
    ...ROWS.filter((r) => r.workload === 'client_credentials'),
    {
      key: 'oidc-provider/client_credentials',
      workload: 'client_credentials',
      target: 'oidc-provider',
      phase: '1M rows',
      unit: 'req/s',
      result: measured(5520),
    },
    {
      key: 'latchkey/client_credentials',
      workload: 'client_credentials',
      target: 'latchkey',
      phase: '1M rows',
      unit: 'req/s',
      result: measured(4358),
      reference: 'empty table',
      ratio: 4358 / 3721.46,
    },
    {
      key: 'latchkey/device flow',
      workload: 'device flow',
      target: 'latchkey',
      phase: 'empty',
      unit: 'flows/s',
      skipped: 'not <built> yet',
    },
  ];
  const svg = chartSvg(grown);
  wellFormed(t, svg);
  const byWorkload = groups(svg);
  t.same([...byWorkload.keys()], ['client_credentials', 'device flow']);
  t.same(
    [...(byWorkload.get('client_credentials') ?? '').matchAll(/class="bar" data-target="([^"]*)" data-phase="([^"]*)"/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    ),
    ['oidc-provider empty', 'oidc-provider 1M rows', 'latchkey empty', 'latchkey 1M rows'],
    'references first, then Latchkey, each phase in order',
  );
  t.ok(svg.includes('>1.17×</text>'), 'the ratio to the empty table');
  t.match(byWorkload.get('device flow') ?? '', />skipped</, 'a skipped row says so');
  t.ok(svg.includes('not &lt;built&gt; yet'), 'with its reason, escaped');
});

t.test('writeChart writes the file it returns', async (t) => {
  const dir = t.testdir();
  const path = await writeChart(join(dir, 'run.svg'), ROWS);
  t.equal(path, join(dir, 'run.svg'));
  t.equal(readFileSync(path, 'utf8'), chartSvg(ROWS));
});
