import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { openDatabase, type Database } from '../../src/db/connect.js';

/** Which database the suite runs on: PostgreSQL when DATABASE_URL is set, else PGlite. */
export const onPostgres = Boolean(process.env.DATABASE_URL);

export interface FreshDatabase {
  /** What to put in Config: a new PostgreSQL database, or a new PGlite directory. */
  databaseUrl: string | undefined;
  dataDir: string;
  open(): Promise<Database>;
}

/**
 * A database of its own for one test: a new PostgreSQL database on the DATABASE_URL server
 * (dropped at the end of the test), or a new embedded data directory (deleted at the end).
 */
export async function freshDatabase(t: Test): Promise<FreshDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-test-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  if (!onPostgres) {
    return { databaseUrl: undefined, dataDir, open: () => openDatabase({ databaseUrl: undefined, dataDir }) };
  }
  const server = new URL(process.env.DATABASE_URL!);
  const name = `latchkey_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  t.teardown(async () => {
    const drop = new pg.Client({ connectionString: server.toString() });
    await drop.connect();
    await drop.query(`drop database if exists ${name} with (force)`);
    await drop.end();
  });
  const url = new URL(server);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  return { databaseUrl, dataDir, open: () => openDatabase({ databaseUrl, dataDir }) };
}
