import { mkdir } from 'node:fs/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import { PGlitePool } from './pglite-pool.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import type { Schema } from './schema.js';
import { PreparedStatementClient } from './prepared-statements.js';
import { pgliteRowCache, postgresRowCache } from './cache/feed.js';

export interface Database {
  db: Kysely<Schema>;
  kind: 'postgres' | 'pglite';
  /** Connections in use and waiting, for metrics. */
  poolStats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

const POOL_SIZE = 10;

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Database> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl);
  return openPGlite(config.dataDir);
}

async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    Client: PreparedStatementClient,
    max: POOL_SIZE,
    // Well under /readyz's 5 s promise: an unreachable database fails requests in 2 s, not a hang.
    connectionTimeoutMillis: 2000,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
    // A query that cannot finish in time fails instead of holding a request forever.
    query_timeout: 10_000,
  });
  // A connection dropped by the server (restart, failover) must not crash the process;
  // the next checkout simply opens a new one.
  pool.on('error', () => {});
  // The same for a connection dropped while checked out: its query fails, the process stays up.
  pool.on('connect', (client) => client.on('error', () => {}));
  // Statements are prepared once per connection (parsed once) but planned at every run: a plan
  // kept from when a table was nearly empty (a sequential scan) would outlive the table's growth.
  // Queued before anything the connection is checked out for.
  pool.on('connect', (client) => void client.query('set plan_cache_mode = force_custom_plan').catch(() => {}));
  // Rows read often are cached in memory while a LISTEN connection hears of every change to them.
  const rowCache = postgresRowCache(url);
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }), plugins: rowCache.plugins });
  const stopRowCache = await rowCache.attach(db);
  return {
    db,
    kind: 'postgres',
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: async () => {
      await stopRowCache();
      await db.destroy();
    },
  };
}

async function openPGlite(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const lock: DataDirLock = await acquireDataDirLock(dataDir);
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create({ dataDir: `${dataDir}/pgdata` });
    const pool = new PGlitePool(pglite);
    const rowCache = pgliteRowCache(pglite);
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: pool as unknown as pg.Pool }), plugins: rowCache.plugins });
    const stopRowCache = await rowCache.attach(db);
    return {
      db,
      kind: 'pglite',
      poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
      close: async () => {
        await stopRowCache();
        await db.destroy();
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
