import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { ROOT, spawnServer } from './helpers/process.js';

/** WORKERS=N: N processes on one port (node:cluster), each replaced when it dies; SIGTERM stops all. */

const run = promisify(execFile);

async function childrenOf(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((n) => n > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const result = await check();
    if (result !== undefined) return result;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return undefined;
}

t.test(
  'two workers on PostgreSQL',
  { skip: onPostgres ? false : 'needs PostgreSQL (WORKERS > 1 refuses the embedded database)' },
  async (t) => {
    const fresh = await freshDatabase(t);
    const server = await spawnServer(t, { fresh, env: { WORKERS: '2' } });
    const primary = server.child.pid!;
    const workers = await until(async () => {
      const pids = await childrenOf(primary);
      return pids.length === 2 ? pids : undefined;
    }, 60_000);
    t.equal(workers?.length, 2, 'the primary runs two worker processes', { output: workers ? undefined : server.output().slice(-3000) });
    if (!workers) return;
    t.match(server.output(), /"role":"primary".*"msg":"starting workers"/, 'the primary says so');

    // Each request on a new connection: the primary hands connections to the workers in turn.
    const requests = 12;
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } });
      t.equal(res.status, 200);
    }
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { connection: 'close' } })).text();
    const served = Number(/latchkey_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} (\d+)/.exec(metrics)?.[1]);
    t.ok(served >= requests, `/metrics sums both workers (${served} health checks counted, ${requests} made)`);
    t.match(metrics, /latchkey_db_pool_connections\{/, 'with the database pool of each');

    const [victim] = workers!;
    process.kill(victim!, 'SIGKILL');
    const replaced = await until(async () => {
      const pids = await childrenOf(primary);
      return pids.length === 2 && !pids.includes(victim!) ? pids : undefined;
    }, 30_000);
    t.ok(replaced, `the killed worker ${victim} was replaced (${replaced?.join(', ')})`);
    for (let i = 0; i < 4; i++)
      t.equal((await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } })).status, 200, 'still serving');
    t.match(server.output(), /worker died; starting another/);

    server.child.kill('SIGTERM');
    const exit = await server.exited;
    t.equal(exit.code, 0, 'SIGTERM: the primary stops its workers and exits 0');
    t.notOk(replaced!.some(alive), 'no worker is left running');
    t.match(server.output(), /all workers stopped/);
  },
);

t.test('WORKERS > 1 without DATABASE_URL is refused in one line', async (t) => {
  const fresh = await freshDatabase(t);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && name !== 'DATABASE_URL') env[name] = value;
  Object.assign(env, { WORKERS: '2', PORT: '0', DATA_DIR: fresh.dataDir });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  t.equal(code, 1, 'exits with 1');
  const lines = stderr.split('\n').filter((line) => line.startsWith('latchkey:'));
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /^latchkey: WORKERS=2 needs DATABASE_URL/);
});
