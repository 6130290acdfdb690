import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import type { BenchOptions } from './options.js';
import type { Measurement } from './load/measurement.js';
import type { Target } from './workloads.js';
import { runtimeVersion } from './runtime.js';

export type Phase = 'empty' | '1M rows';

export interface Row {
  key: string;
  workload: string;
  target: Target;
  phase: Phase;
  unit: string;
  result?: Measurement;
  skipped?: string;
  /** What the ratio compares with, and the ratio of the rates. */
  reference?: string;
  ratio?: number;
  /** 1M rows: the ratio to the empty table, each phase first divided by its reference of the moment. */
  normalizedRatio?: number;
  /** The largest resident set of any one server process during the run, and how many served. */
  rssBytes?: number;
  processes?: number;
  /** Server CPU time (all its processes, user + system) per operation, microseconds. */
  cpuMicros?: number;
}

export interface Check {
  name: string;
  value: number | undefined;
  goal: string;
  pass: boolean;
}

const MB = 1024 * 1024;
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function cells(row: Row): string[] {
  const target =
    row.phase === 'empty' ? row.target : row.target === 'latchkey' ? `${row.target}, ${row.phase}` : `${row.target} (beside ${row.phase})`;
  if (!row.result) return [row.workload, target, 'skipped', '', '', '', row.skipped ?? '', '', ''];
  const r = row.result;
  const normalized = row.normalizedRatio === undefined ? '' : ` (${fixed(row.normalizedRatio, 2)} against the reference)`;
  const ratio = row.ratio === undefined ? '' : `${fixed(row.ratio, 2)} × ${row.reference}${normalized}`;
  const rss = row.rssBytes
    ? `${fixed(row.rssBytes / MB, 0)} MB${row.processes && row.processes > 1 ? ` (${row.processes} proc.)` : ''}`
    : '';
  const cpu = row.cpuMicros === undefined ? '' : `${fixed(row.cpuMicros, 0)} µs`;
  return [
    row.workload,
    target,
    `${fixed(r.rate, r.rate < 100 ? 1 : 0)} ${row.unit}`,
    fixed(r.p50, 1),
    fixed(r.p99, 1),
    String(r.errors),
    ratio,
    rss,
    cpu,
  ];
}

const HEADER = ['workload', 'target', 'rate', 'p50 ms', 'p99 ms', 'errors', 'ratio', 'server RSS', 'server CPU/op'];

/** The table as plain text for the terminal. */
export function textTable(rows: Row[]): string {
  const lines = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const format = (l: string[]) =>
    l
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [format(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(format)].join('\n');
}

/** The same table in Markdown, for README. */
export function markdownTable(rows: Row[]): string {
  const line = (l: string[]) => `| ${l.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map((r) => line(cells(r)))].join('\n');
}

export function checksText(checks: Check[]): string {
  const verdict = (c: Check) => (c.value === undefined ? 'SKIP' : c.pass ? 'PASS' : 'FAIL');
  return checks
    .map((c) => `${verdict(c)}  ${c.name}: ${c.value === undefined ? 'not measured' : fixed(c.value, 2)} (goal ${c.goal})`)
    .join('\n');
}

export function machine() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGB: Math.round(totalmem() / 1024 ** 3),
    node: runtimeVersion(),
    platform: `${process.platform} ${process.arch}`,
  };
}

export async function writeJson(dir: string, options: BenchOptions, rows: Row[], checks: Check[], postgres: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = `${dir}/${stamp}.json`;
  await writeFile(
    path,
    `${JSON.stringify({ date: new Date().toISOString(), machine: { ...machine(), postgres }, options, rows, checks }, null, 2)}\n`,
  );
  return path;
}
