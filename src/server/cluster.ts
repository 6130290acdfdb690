import cluster, { type Worker } from 'node:cluster';
import { pino } from 'pino';
import type { Config } from '../config.js';
import { openDatabase } from '../db/connect.js';
import { prepareDatabase } from '../assembly.js';
import { serveClusterMetrics } from '../observability/cluster-metrics.js';

/** Workers get this long to finish their requests after SIGTERM, then they are killed. */
const STOP_GRACE_MS = 15_000;
/** A worker that dies sooner than this after starting is restarted after a growing delay. */
const HEALTHY_AFTER_MS = 5_000;
/** Workers that never manage to listen, this many times in a row: give up (e.g. port in use). */
const MAX_START_FAILURES = 5;

/** Migrations and signing keys, once, before any worker starts (workers then find them done). */
async function prepareOnce(config: Config): Promise<void> {
  const database = await openDatabase(config);
  try {
    await prepareDatabase(database.db);
  } finally {
    await database.close();
  }
}

/**
 * WORKERS > 1: this (primary) process prepares the database, then runs `config.workers` worker
 * processes that share one listening port (node:cluster). A worker that dies is replaced;
 * SIGTERM or SIGINT stops them all gracefully, then the primary exits.
 */
export async function runPrimary(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel }).child({ role: 'primary' });
  await prepareOnce(config);

  const workers = new Map<Worker, { started: number; listened: boolean }>();
  serveClusterMetrics((worker) => workers.get(worker)?.listened === true);
  let stopping = false;
  let exitCode = 0;
  let startFailures = 0;

  const fork = () => {
    if (stopping) return;
    const worker = cluster.fork();
    workers.set(worker, { started: Date.now(), listened: false });
    worker.once('listening', () => {
      const state = workers.get(worker);
      if (state) state.listened = true;
      startFailures = 0;
      log.info({ worker_pid: worker.process.pid }, 'worker listening');
    });
  };

  const finish = (code: number) => {
    log.info({ code }, 'all workers stopped');
    process.exit(code);
  };

  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log.info({ reason, workers: workers.size }, 'stopping workers: they finish the requests in flight');
    for (const worker of workers.keys()) worker.process.kill('SIGTERM');
    const force = setTimeout(() => {
      log.warn('workers took too long to stop; killing them');
      for (const worker of workers.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, STOP_GRACE_MS);
    force.unref();
    if (workers.size === 0) finish(code);
  };

  cluster.on('exit', (worker, code, signal) => {
    const state = workers.get(worker);
    workers.delete(worker);
    if (stopping) {
      if (workers.size === 0) finish(exitCode);
      return;
    }
    log.warn({ worker_pid: worker.process.pid, code, signal }, 'worker died; starting another');
    if (!state?.listened && ++startFailures >= MAX_START_FAILURES) {
      log.fatal(`workers failed to start ${startFailures} times in a row; giving up (see their errors above)`);
      stop('workers cannot start', 1);
      return;
    }
    const lived = state ? Date.now() - state.started : 0;
    const delay = lived < HEALTHY_AFTER_MS ? Math.min(30_000, 250 * 2 ** startFailures) : 0;
    setTimeout(fork, delay);
  });

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log.info({ workers: config.workers, port: config.port, host: config.host }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}
