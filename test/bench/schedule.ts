import { summarize, type Driver, type Round } from './load/measurement.js';
import { watchServer } from './processes.js';
import type { Phase, Row } from './report.js';
import { rowKey, type BenchTargets, type Workload } from './workloads.js';

export interface Settings {
  connections: number;
  /** Measured seconds per workload, split into rounds. */
  duration: number;
  warmup: number;
}

type Log = (line: string) => void;

/** A workload being measured: its driver, its rounds so far, its server's usage. */
class Measured {
  readonly row: Row;
  readonly rounds: Round[] = [];
  driver: Driver | undefined;
  readonly watch;

  constructor(
    readonly workload: Workload,
    targets: BenchTargets,
    phase: Phase,
  ) {
    this.row = {
      key: rowKey(workload.target, workload.name),
      workload: workload.name,
      target: workload.target,
      phase,
      unit: workload.unit,
    };
    const server = workload.server?.(targets);
    this.watch = server ? watchServer(server) : undefined;
  }

  async prepare(targets: BenchTargets, settings: Settings, log: Log): Promise<boolean> {
    try {
      const prepared = await this.workload.prepare(targets, settings.connections);
      if ('skipped' in prepared) {
        this.row.skipped = prepared.skipped;
        log(`  ${this.row.key}: skipped: ${prepared.skipped}`);
        return false;
      }
      this.driver = prepared;
      if (settings.warmup > 0) await prepared.warm(settings.warmup);
      await this.watch?.settle();
      return true;
    } catch (err) {
      this.fail(err, log);
      return false;
    }
  }

  async round(seconds: number, log: Log): Promise<void> {
    if (!this.driver) return;
    try {
      await this.driver.ready?.();
      this.watch?.start();
      const round = await this.driver.round(seconds);
      this.watch?.stop();
      this.rounds.push(round);
      // Slow operations (password checks) a round left in flight are still being served.
      await this.watch?.settle();
    } catch (err) {
      this.fail(err, log);
    }
  }

  private fail(err: unknown, log: Log): void {
    this.driver?.close();
    this.driver = undefined;
    this.row.skipped = `failed: ${(err as Error).message.split('\n')[0]}`;
    log(`  ${this.row.key}: ${this.row.skipped}`);
  }

  finish(log: Log): Row {
    this.driver?.close();
    const usage = this.watch?.usage();
    if (this.rounds.length && !this.row.skipped) {
      const result = summarize(this.rounds);
      this.row.result = result;
      if (usage) {
        this.row.rssBytes = usage.maxRssBytes;
        this.row.processes = usage.processes;
        if (result.operations) this.row.cpuMicros = (usage.cpuSeconds * 1e6) / result.operations;
      }
      log(
        `  ${this.row.key}: ${result.rate.toFixed(1)} ${this.row.unit}, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${result.errors} errors`,
      );
    }
    return this.row;
  }
}

/**
 * Measures workloads one group at a time: a reference with every workload compared with it, in
 * alternating rounds (A B C, C B A, A B C, ...), so that whatever else the machine is doing
 * weighs on all of them alike: the ratios are what this bench is about.
 */
export async function measureAll(workloads: Workload[], targets: BenchTargets, phase: Phase, settings: Settings, log: Log): Promise<Row[]> {
  const keyOf = (w: Workload) => rowKey(w.target, w.name);
  const present = new Set(workloads.map(keyOf));
  const groups: Workload[][] = [];
  const grouped = new Set<Workload>();
  for (const workload of workloads) {
    if (grouped.has(workload)) continue;
    const reference =
      workload.reference && present.has(workload.reference) ? workloads.find((w) => keyOf(w) === workload.reference)! : undefined;
    const head = reference ?? workload;
    const group = [head, ...workloads.filter((w) => w !== head && w.reference === keyOf(head))];
    for (const w of group) grouped.add(w);
    groups.push(group);
  }
  const rows: Row[] = [];
  for (const group of groups) {
    const slow = group.some((w) => w.slow);
    const roundCount = Math.max(1, Math.round(settings.duration / (slow ? 5 : 2.5)));
    const seconds = settings.duration / roundCount;
    const names = group.map(keyOf).join(' vs ');
    log(
      `- ${names}${phase === 'empty' ? '' : ` (${phase})`}: ${settings.warmup} s warm-up, ${roundCount} × ${seconds.toFixed(1)} s${group.length > 1 ? ' each, alternating' : ''}, ${settings.connections} connections`,
    );
    const measured = group.map((w) => new Measured(w, targets, phase));
    for (const m of measured) await m.prepare(targets, settings, log);
    for (let r = 0; r < roundCount; r++) {
      const order = r % 2 === 0 ? measured : [...measured].reverse();
      for (const m of order) await m.round(seconds, log);
    }
    for (const m of measured) rows.push(m.finish(log));
  }
  return rows;
}
