import cluster from 'node:cluster';
import { buildApp } from '../app.js';
import type { Config } from '../config.js';
import { DataDirBusyError } from '../db/data-dir-lock.js';
import { runPrimary } from './cluster.js';
import { useClusterMetrics } from '../observability/cluster-metrics.js';
import { trackConnections } from './graceful.js';
import { fail } from './startup-config.js';

const SHUTDOWN_GRACE_MS = 10_000;

/** One server process: alone (WORKERS=1) or as one of the cluster's workers. */
async function serve(config: Config, worker: boolean): Promise<void> {
  const app = await buildApp(config);
  if (worker) useClusterMetrics(app.metrics);
  const connections = trackConnections(app.server);
  if (config.issuer.startsWith('https:') && !config.trustProxy) {
    app.log.warn(
      'ISSUER is https but TRUST_PROXY is off: requests arrive over plain http, where the Secure cookies of sign-in cannot be set. ' +
        'Behind a TLS-terminating proxy, set TRUST_PROXY=true.',
    );
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => {
      app.log.warn('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    connections.drain();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A worker whose primary is gone (killed) stops too, rather than serving on alone.
  if (worker) process.on('disconnect', () => shutdown('primary gone'));
  await app.listen({ port: config.port, host: config.host });
}

function startupFailure(config: Config) {
  return (err: unknown): never => {
    if (err instanceof DataDirBusyError) fail(err.message);
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') fail(`port ${config.port} on ${config.host} is already in use (set PORT)`);
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '3D000' || code === '28P01') {
      fail(`cannot reach the database at DATABASE_URL: ${(err as Error).message}`);
    }
    fail(`could not start: ${(err as Error).message}`);
  };
}

/** Serves with these settings: one process, or a cluster's primary or one of its workers. */
export function start(config: Config): void {
  if (config.workers <= 1) {
    serve(config, false).catch(startupFailure(config));
  } else if (!config.databaseUrl) {
    fail(`WORKERS=${config.workers} needs DATABASE_URL: the embedded database admits one process (set DATABASE_URL, or WORKERS=1)`);
  } else if (cluster.isPrimary) {
    runPrimary(config).catch(startupFailure(config));
  } else {
    serve(config, true).catch(startupFailure(config));
  }
}
