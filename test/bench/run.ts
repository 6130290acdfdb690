// npm run bench: Latchkey side by side with its ceilings (see README, "Performance").
import { fileURLToPath } from 'node:url';
import { writeChart } from './chart.js';
import { checks } from './checks.js';
import { createBenchDatabase, onDatabase, type BenchDatabase } from './database.js';
import { fillPayloads, GROWTH_ROWS } from './growth.js';
import { parseOptions } from './options.js';
import { passwordHashLabel } from './password-rate.js';
import { killAllNow, stopAll } from './processes.js';
import { measureAll } from './schedule.js';
import { checksText, machine, markdownTable, textTable, writeJson, type Row } from './report.js';
import { startHello, startLatchkey, startOidcReference } from './targets.js';
import { rowKey, WORKLOADS, type BenchTargets, type Workload } from './workloads.js';

const RESULTS_DIR = fileURLToPath(new URL('../../bench-results', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

const options = parseOptions(process.argv.slice(2));
const settings = { connections: options.connections, duration: options.duration, warmup: options.warmup };

/** The workloads asked for with --only, and the rows they are compared with. */
function selected(): Workload[] {
  if (!options.only) return WORKLOADS;
  const wanted = new Set<string>();
  for (const w of WORKLOADS) {
    const key = rowKey(w.target, w.name);
    if (options.only.some((o) => w.name.toLowerCase().includes(o.toLowerCase()) || key === o)) {
      wanted.add(key);
      if (w.reference) wanted.add(w.reference);
    }
  }
  if (!wanted.size) throw new Error(`--only matched no workload; workloads: ${WORKLOADS.map((w) => rowKey(w.target, w.name)).join(', ')}`);
  return WORKLOADS.filter((w) => wanted.has(rowKey(w.target, w.name)));
}

function addRatios(rows: Row[]): void {
  const rate = (key: string | undefined, phase: Row['phase']) => rows.find((r) => r.key === key && r.phase === phase)?.result?.rate;
  for (const row of rows) {
    if (!row.result) continue;
    const workload = WORKLOADS.find((w) => rowKey(w.target, w.name) === row.key);
    if (row.phase === 'empty') {
      const reference = rows.find((r) => r.key === workload?.reference && r.phase === 'empty');
      if (!reference?.result) continue;
      row.reference = `${reference.target} ${reference.workload}`;
      row.ratio = row.result.rate / reference.result.rate;
    } else {
      const empty = rate(row.key, 'empty');
      if (!empty || !workload?.reference) continue;
      row.reference = 'empty table';
      row.ratio = row.result.rate / empty;
      // The same, with each phase measured against its reference of the moment (load drift removed).
      const before = rate(workload.reference, 'empty');
      const now = rate(workload.reference, row.phase);
      if (before && now) row.normalizedRatio = row.result.rate / now / (empty / before);
    }
  }
}

let database: BenchDatabase | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    await stopAll();
    await database?.drop().catch((err: unknown) => log(`could not drop ${database?.name}: ${(err as Error).message}`));
  })());

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the servers and dropping the bench database`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', killAllNow);

async function main(): Promise<void> {
  const started = Date.now();
  database = await createBenchDatabase();
  const postgres = await onDatabase(
    database.url,
    async (c) => (await c.query<{ server_version: string }>('show server_version')).rows[0]!.server_version,
  );
  const host = machine();
  log(`Latchkey bench on ${host.cores} × ${host.cpu}, Node ${host.node}, PostgreSQL ${postgres}; database ${database.name}`);

  const latchkey = await startLatchkey(database.url, options.workers);
  const hello = await startHello();
  const reference = await startOidcReference(latchkey.client, [...latchkey.grantTypes]);
  const targets: BenchTargets = { hello, reference, latchkey };

  const workloads = selected();
  const rows: Row[] = await measureAll(workloads, targets, 'empty', settings, log);

  if (options.growth) {
    log(`- filling oidc_payloads with ${GROWTH_ROWS.toLocaleString('en')} rows (live and expired)`);
    await fillPayloads(database.url, (n) => log(`  ${n.toLocaleString('en')} rows`));
    // The references again, alongside: the machine may be busier or quieter than minutes ago.
    const growing = workloads.filter((w) => w.growth);
    const alongside = workloads.filter((w) => growing.some((g) => g.reference === rowKey(w.target, w.name)));
    rows.push(...(await measureAll([...alongside, ...growing], targets, '1M rows', settings, log)));
  }

  addRatios(rows);
  const results = checks(rows, rowKey('in-process', passwordHashLabel()));
  process.stdout.write(`\n${textTable(rows)}\n\n${checksText(results)}\n`);
  const path = await writeJson(RESULTS_DIR, options, rows, results, postgres);
  const chart = await writeChart(path.replace(/\.json$/, '.svg'), rows, {
    date: new Date().toISOString(),
    machine: { ...host, postgres },
    options,
  });
  process.stdout.write(
    `\nMarkdown:\n\n${markdownTable(rows)}\n\nwritten to ${path} in ${Math.round((Date.now() - started) / 1000)} s\nchart: ${chart}\n`,
  );
}

main()
  .catch((err: unknown) => {
    log(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
