import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/connect.js';
import { freshDatabase, type FreshDatabase } from './database.js';

export interface TestServer {
  url: string;
  app: FastifyInstance;
  config: Config;
  fresh: FreshDatabase;
}

import { freePort } from './ports.js';

export { freePort };

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a database (e.g. a second instance, or a restart); default: a fresh one. */
  fresh?: FreshDatabase;
  database?: Database;
  /** Settings no environment variable sets (e.g. the guarded fetcher's test CA), over the loaded config. */
  config?: Partial<Config>;
}

/** A real Latchkey listening on 127.0.0.1, on a database of its own; closed at the end of the test. */
export async function startServer(t: Test, options: StartOptions = {}): Promise<TestServer> {
  const fresh = options.fresh ?? (await freshDatabase(t));
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: fresh.dataDir,
    ...(fresh.databaseUrl ? { DATABASE_URL: fresh.databaseUrl } : {}),
    ...options.env,
  });
  Object.assign(config, options.config);
  const app = await buildApp(config, options.database ? { database: options.database } : {});
  await app.listen({ port, host: '127.0.0.1' });
  t.teardown(() => app.close());
  return { url: `http://127.0.0.1:${port}`, app, config, fresh };
}
