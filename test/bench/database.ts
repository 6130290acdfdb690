import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DEFAULT_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function onServer<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new database latchkey_bench_<random> on the DATABASE_URL server (or the local default). */
export async function createBenchDatabase(serverUrl = process.env.DATABASE_URL || DEFAULT_SERVER): Promise<BenchDatabase> {
  const name = `latchkey_bench_${randomBytes(5).toString('hex')}`;
  const admin = new URL(serverUrl);
  await onServer(admin.toString(), (c) => c.query(`create database ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await onServer(admin.toString(), (c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** Runs one statement on the bench database (fills, analyze). */
export async function onDatabase<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return onServer(url, work);
}
