import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { FreshDatabase } from './database.js';
import { freePort } from './server.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Variables of the test's own environment that must not leak into a spawned server. */
const SERVER_VARIABLES = [
  'PORT',
  'HOST',
  'ISSUER',
  'DATABASE_URL',
  'DATA_DIR',
  'WORKERS',
  'TOKEN_RATE_LIMIT',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'NODE_ENV',
];

export interface SpawnOptions {
  /** The database to serve from (a FreshDatabase of the test). */
  fresh: FreshDatabase;
  env?: Record<string, string>;
  /** The command after `node`: default runs src/main.ts through tsx. */
  args?: string[];
  cwd?: string;
  /** How long to wait for /healthz (ms). */
  startTimeout?: number;
}

export interface SpawnedServer {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function waitForHealth(url: string, server: { exitedEarly: () => boolean }, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !server.exitedEarly()) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/**
 * Starts Latchkey as its own process (node + tsx on src/main.ts unless `args` say otherwise) on
 * the test's database and a free port; resolves once /healthz answers. Killed (SIGKILL) at the
 * end of the test if it is still running.
 */
export async function spawnServer(t: Test, options: SpawnOptions): Promise<SpawnedServer> {
  const port = options.env?.PORT ? Number(options.env.PORT) : await freePort();
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !SERVER_VARIABLES.includes(name)) env[name] = value;
  Object.assign(env, {
    PORT: String(port),
    LOG_LEVEL: 'info',
    DATA_DIR: options.fresh.dataDir,
    ...(options.fresh.databaseUrl ? { DATABASE_URL: options.fresh.databaseUrl } : {}),
    ...options.env,
  });
  const child = spawn(process.execPath, options.args ?? ['--import', 'tsx', 'src/main.ts'], {
    cwd: options.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  t.teardown(async () => {
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitForHealth(url, { exitedEarly: () => done }, options.startTimeout ?? 60_000))) {
    if (!done) child.kill('SIGKILL');
    throw new Error(`the server did not come up on ${url}:\n${output.slice(-4000)}`);
  }
  return { url, port, child, output: () => output, exited };
}

/** The JSON lines a server logged (pino), skipping anything else it printed. */
export function logLines(output: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut short while the process was killed
    }
  }
  return lines;
}

/**
 * Runs `work` against an app on the test's database that is closed again afterwards, so a spawned
 * server can have the database (the embedded one admits one process at a time).
 */
export async function withApp<T>(fresh: FreshDatabase, work: (app: FastifyInstance) => Promise<T>): Promise<T> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    DATA_DIR: fresh.dataDir,
    ...(fresh.databaseUrl ? { DATABASE_URL: fresh.databaseUrl } : {}),
  });
  const app = await buildApp(config);
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
