// The bench's table as a bar chart: a standalone SVG, written beside the run's JSON.
//   node --import tsx test/bench/chart.ts bench-results/<time>.json [out.svg]
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Row } from './report.js';

/** What a saved run says about itself besides its rows (the JSON of writeJson). */
export interface RunInfo {
  date?: string;
  machine?: { cpu?: string; cores?: number; node?: string; postgres?: string };
  options?: { duration?: number; connections?: number; workers?: string | number };
}

interface Bar {
  row: Row;
  /** A reference is what Latchkey is compared with; it stands before Latchkey's bars. */
  role: 'reference' | 'latchkey';
}

export interface Group {
  workload: string;
  bars: Bar[];
}

const WIDTH = 900;
const SIDE = 24;
const GROUP_GAP = 22;
/** The narrowest group: room for a workload's name in a few lines. */
const MIN_GROUP = 104;
/** A bar's slot: at most, at least (narrower and the numbers over the bars collide), and the least a band of groups is given. */
const MAX_SLOT = 76;
const MIN_SLOT = 30;
const COMFORTABLE_SLOT = 46;
const PLOT_HEIGHT = 250;
/** Room above the tallest bar for its number and the ratio. */
const HEADROOM = 40;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

const REFERENCE_COLORS: Record<string, string> = { fastify: '#8a94a0', 'oidc-provider': '#e08a3c', 'in-process': '#5f9e5a' };
const TARGET_NAMES: Record<string, string> = {
  fastify: 'bare Fastify route',
  'oidc-provider': 'oidc-provider, in memory',
  'in-process': 'password hash, in-process',
};
const LATCHKEY_COLOR = '#2563c9';
const OTHER_COLOR = '#a070c0';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
/** A rate as the table writes it. */
export const formatRate = (rate: number) => fixed(rate, rate < 100 ? 1 : 0);
const px = (n: number) => String(Math.round(n * 10) / 10);
const named = (row: Row) => `${row.target} ${row.workload}`;

/**
 * One group per workload Latchkey ran, in the table's order: the reference it was compared with
 * (of each phase) first, then Latchkey's bars (empty table, then 1M rows). Rows compared with
 * nothing and used by no group (a reference whose Latchkey row is missing) get a group of their own.
 */
export function chartGroups(rows: Row[]): Group[] {
  const groups = new Map<string, Group>();
  const used = new Set<Row>();
  const group = (workload: string) => {
    let g = groups.get(workload);
    if (!g) groups.set(workload, (g = { workload, bars: [] }));
    return g;
  };
  for (const row of rows.filter((r) => r.target === 'latchkey')) group(row.workload);
  for (const [workload, g] of groups) {
    const own = rows.filter((r) => r.target === 'latchkey' && r.workload === workload);
    // The 1M rows' ratio is to the empty table: their reference is the empty row's, measured alongside.
    const referenceName = own.find((r) => r.phase === 'empty')?.reference ?? own.find((r) => r.reference !== 'empty table')?.reference;
    const references = rows.filter((r) => r.target !== 'latchkey' && referenceName !== undefined && named(r) === referenceName);
    for (const row of [...references.filter((r) => r.phase === 'empty'), ...references.filter((r) => r.phase !== 'empty')]) {
      g.bars.push({ row, role: 'reference' });
      used.add(row);
    }
    for (const row of [...own.filter((r) => r.phase === 'empty'), ...own.filter((r) => r.phase !== 'empty')]) {
      g.bars.push({ row, role: 'latchkey' });
      used.add(row);
    }
  }
  for (const row of rows.filter((r) => !used.has(r))) {
    const { bars } = group(row.workload);
    const firstLatchkey = bars.findIndex((b) => b.role === 'latchkey');
    bars.splice(firstLatchkey < 0 ? bars.length : firstLatchkey, 0, { row, role: 'reference' });
  }
  return [...groups.values()];
}

function color(bar: Bar): string {
  return bar.role === 'latchkey' ? LATCHKEY_COLOR : (REFERENCE_COLORS[bar.row.target] ?? OTHER_COLOR);
}

/** The legend's entry of a bar: its target, and its phase when it is not the empty table. */
function legendLabel(bar: Bar): string {
  const target = bar.role === 'latchkey' ? 'Latchkey' : (TARGET_NAMES[bar.row.target] ?? bar.row.target);
  if (bar.row.phase === 'empty') return target;
  return bar.role === 'latchkey' ? `${target}, ${bar.row.phase}` : `${target}, beside ${bar.row.phase}`;
}

/** Words in lines of at most `max` characters (a longer word is cut after a "_" or "/" if it has one). */
function wrap(text: string, max: number): string[] {
  const lines: string[] = [];
  const words = text
    .split(/\s+/)
    .filter(Boolean)
    .flatMap((word) => (word.length > max ? (word.match(/[^_/]+[_/]*|[_/]+/g) ?? [word]) : [word]));
  for (const word of words) {
    const last = lines[lines.length - 1];
    const glue = last !== undefined && /[_/]$/.test(last) ? '' : ' ';
    if (last !== undefined && last.length + glue.length + word.length <= max) lines[lines.length - 1] = `${last}${glue}${word}`;
    else lines.push(word);
  }
  return lines;
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;
}

function subtitle(info: RunInfo): string {
  const m = info.machine ?? {};
  const parts = [
    m.cores && m.cpu ? `${m.cores} × ${m.cpu}` : m.cpu,
    m.node && `Node ${m.node.replace(/^v/, '')}`,
    m.postgres && `PostgreSQL ${m.postgres.split(' ')[0]}`,
    info.options?.connections && `${info.options.connections} connections`,
    info.options?.workers && `${info.options.workers} ${String(info.options.workers) === '1' ? 'worker' : 'workers'}`,
  ];
  return parts.filter(Boolean).join(', ');
}

/** Slot widths: every bar the same, every group room for its name, `room` filled if it can be. */
function layout(groups: Group[], room: number): { slot: number; widths: number[] } {
  const bars = groups.reduce((n, g) => n + g.bars.length, 0);
  const minGroup = Math.min(MIN_GROUP, room / Math.max(1, groups.length));
  let slot = room / Math.max(1, bars);
  for (let i = 0; i < 3; i++) {
    const narrow = groups.filter((g) => g.bars.length * slot < minGroup);
    const rest = bars - narrow.reduce((n, g) => n + g.bars.length, 0);
    if (rest > 0) slot = (room - minGroup * narrow.length) / rest;
  }
  slot = Math.max(MIN_SLOT, Math.min(MAX_SLOT, slot));
  return { slot, widths: groups.map((g) => Math.max(minGroup, slot * g.bars.length)) };
}

/** Groups in lines (bands) that fit the width with bars no narrower than COMFORTABLE_SLOT. */
function bands(groups: Group[]): Group[][] {
  const lines: Group[][] = [];
  for (const g of groups) {
    const line = lines[lines.length - 1];
    const candidate = [...(line ?? []), g];
    const { slot } = layout(candidate, WIDTH - 2 * SIDE - GROUP_GAP * (candidate.length - 1));
    if (line && slot < COMFORTABLE_SLOT) lines.push([g]);
    else if (line) line.push(g);
    else lines.push([g]);
  }
  return lines;
}

function groupSvg(g: Group, x: number, w: number, slot: number, plotTop: number): { svg: string; lines: number } {
  const baseline = plotTop + PLOT_HEIGHT;
  const barWidth = slot * 0.78;
  // Each group on its own scale: the comparison is within a group (rates span 10 to 50 000 a second).
  const top = Math.max(...g.bars.map((b) => b.row.result?.rate ?? 0), 0);
  const first = x + (w - slot * g.bars.length) / 2;
  const parts: string[] = [`<g class="group" data-workload="${escapeXml(g.workload)}">`];
  parts.push(`<rect x="${px(x - 4)}" y="${plotTop}" width="${px(w + 8)}" height="${PLOT_HEIGHT}" fill="#f3f5f8" rx="4"/>`);
  g.bars.forEach((bar, i) => {
    const cx = first + slot * i + slot / 2;
    const { row } = bar;
    const attrs = `class="bar" data-target="${escapeXml(row.target)}" data-phase="${escapeXml(row.phase)}" data-role="${bar.role}"`;
    const title = `${row.target} ${row.workload}${row.phase === 'empty' ? '' : ` (${row.phase})`}`;
    if (!row.result) {
      parts.push(
        `<g ${attrs}><title>${escapeXml(`${title}: skipped${row.skipped ? ` (${row.skipped})` : ''}`)}</title>`,
        `<rect x="${px(cx - barWidth / 2)}" y="${baseline - 18}" width="${px(barWidth)}" height="18" fill="none" stroke="${color(bar)}" stroke-dasharray="3 2"/>`,
        text(cx, baseline - 24, 'skipped', 'font-size="10" fill="#667" text-anchor="middle"'),
        '</g>',
      );
      return;
    }
    const r = row.result;
    const height = top > 0 ? Math.max(1, (r.rate / top) * (PLOT_HEIGHT - HEADROOM)) : 1;
    const y = baseline - height;
    const opacity = row.phase === 'empty' ? '' : ' fill-opacity="0.55"';
    const tooltip = `${title}: ${formatRate(r.rate)} ${row.unit}, p50 ${fixed(r.p50, 1)} ms, p99 ${fixed(r.p99, 1)} ms, ${r.errors} errors`;
    parts.push(
      `<g ${attrs}><title>${escapeXml(tooltip)}</title>`,
      `<rect x="${px(cx - barWidth / 2)}" y="${px(y)}" width="${px(barWidth)}" height="${px(height)}" fill="${color(bar)}"${opacity} rx="2"/>`,
      text(cx, y - 5, formatRate(r.rate), 'class="rate" font-size="11" fill="#222" text-anchor="middle"'),
    );
    if (bar.role === 'latchkey' && row.ratio !== undefined)
      parts.push(
        text(cx, y - 20, `${fixed(row.ratio, 2)}×`, 'class="ratio" font-size="12.5" font-weight="700" fill="#123e8a" text-anchor="middle"'),
      );
    parts.push('</g>');
  });
  // The workload's name under its group, wrapped to the group's width; its unit(s) below.
  const lines = wrap(g.workload, Math.max(8, Math.floor((w + GROUP_GAP - 4) / 6.6)));
  lines.forEach((line, i) =>
    parts.push(text(x + w / 2, baseline + 18 + 15 * i, line, 'class="workload" font-size="12.5" fill="#222" text-anchor="middle"')),
  );
  const units = [...new Set(g.bars.map((b) => b.row.unit))].join(' · ');
  parts.push(text(x + w / 2, baseline + 18 + 15 * lines.length, units, 'font-size="11" fill="#667" text-anchor="middle"'), '</g>');
  return { svg: parts.join('\n'), lines: lines.length };
}

/**
 * The chart of one run's rows, as a standalone SVG document 900 px wide: a band of bar groups,
 * or more than one when a run has too many bars for one (a --growth run).
 */
export function chartSvg(rows: Row[], info: RunInfo = {}): string {
  const groups = chartGroups(rows).filter((g) => g.bars.length);
  const planned = bands(groups).map((band) => ({ band, ...layout(band, WIDTH - 2 * SIDE - GROUP_GAP * (band.length - 1)) }));
  // Only a single group of very many bars makes the chart wider.
  const width = Math.max(WIDTH, ...planned.map((p) => 2 * SIDE + GROUP_GAP * (p.band.length - 1) + p.widths.reduce((a, b) => a + b, 0)));

  // The legend: one entry per kind of bar, references first; it wraps to more lines if need be.
  const legend: string[] = ['<g class="legend">'];
  const entries = new Map<string, Bar>();
  for (const role of ['reference', 'latchkey'] as const)
    for (const g of groups)
      for (const bar of g.bars) if (bar.role === role && !entries.has(legendLabel(bar))) entries.set(legendLabel(bar), bar);
  let lx = SIDE;
  let ly = 96;
  for (const [label, bar] of entries) {
    const w = 17 + label.length * 7;
    if (lx + w > width - SIDE && lx > SIDE) [lx, ly] = [SIDE, ly + 20];
    const opacity = bar.row.phase === 'empty' ? '' : ' fill-opacity="0.55"';
    legend.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color(bar)}"${opacity} rx="2"/>`,
      text(lx + 17, ly, label, 'font-size="12.5" fill="#222"'),
    );
    lx += w + 18;
  }
  legend.push('</g>');

  const body: string[] = [];
  let plotTop = ly + 26;
  for (const { band, slot, widths } of planned) {
    const content = GROUP_GAP * (band.length - 1) + widths.reduce((a, b) => a + b, 0);
    let x = SIDE + (width - 2 * SIDE - content) / 2;
    let lines = 1;
    band.forEach((g, i) => {
      const drawn = groupSvg(g, x, widths[i]!, slot, plotTop);
      body.push(drawn.svg);
      lines = Math.max(lines, drawn.lines);
      x += widths[i]! + GROUP_GAP;
    });
    const baseline = plotTop + PLOT_HEIGHT;
    body.push(`<line x1="${SIDE}" x2="${px(width - SIDE)}" y1="${baseline}" y2="${baseline}" stroke="#99a" stroke-width="1"/>`);
    plotTop = baseline + 18 + 15 * lines + 28;
  }

  const height = plotTop - 8;
  const title = `Latchkey bench${info.date ? `, ${info.date.slice(0, 16).replace('T', ' ')} UTC` : ''}`;
  const note =
    'Operations per second; each group on its own scale. Over Latchkey’s bars: its rate ÷ the reference’s (÷ the empty table’s, with 1M rows).';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${px(width)}" height="${height}" viewBox="0 0 ${px(width)} ${height}" font-family="${escapeXml(FONT)}" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(title)}</title>`,
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    text(SIDE, 30, title, 'font-size="18" font-weight="700" fill="#111"'),
    text(SIDE, 50, subtitle(info) || 'npm run bench', 'font-size="12.5" fill="#445"'),
    text(SIDE, 70, note, 'font-size="12" fill="#445"'),
    legend.join('\n'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the chart of a run to `path` (run.ts: beside its JSON) and returns the path. */
export async function writeChart(path: string, rows: Row[], info: RunInfo = {}): Promise<string> {
  await writeFile(path, chartSvg(rows, info));
  return path;
}

// As a command: the chart of a saved run.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [input, output] = process.argv.slice(2);
  if (!input) {
    process.stderr.write('usage: node --import tsx test/bench/chart.ts bench-results/<time>.json [out.svg]\n');
    process.exit(2);
  }
  const run = JSON.parse(await readFile(input, 'utf8')) as RunInfo & { rows: Row[] };
  process.stdout.write(`${await writeChart(output ?? input.replace(/\.json$/, '') + '.svg', run.rows, run)}\n`);
}
