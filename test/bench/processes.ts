import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVER_ENV, serverRuntime } from './runtime.js';

/** A server the bench started: its own process group, so stopping it stops its workers too. */
export interface Started {
  name: string;
  pid: number;
  child: ChildProcess;
  output: () => string;
}

const started = new Set<Started>();

export { freePort } from '../helpers/ports.js';

/**
 * Starts a server process on the servers' runtime (runtime.ts), detached (a process group of
 * its own), and remembers it for stopAll.
 */
export function startProcess(name: string, args: string[], env: Record<string, string>, options: { ipc?: boolean } = {}): Started {
  const child = spawn(serverRuntime(), args, {
    env: { ...process.env, ...SERVER_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  const entry: Started = { name, pid: child.pid, child, output: () => output };
  started.add(entry);
  child.once('exit', () => started.delete(entry));
  return entry;
}

/** Resolves when `url` answers (any status); fails with the process's output if it exits or takes too long. */
export async function waitUntilUp(server: Started, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.name} exited during start-up:\n${server.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${server.name} did not answer ${url} within ${timeoutMs / 1000} s:\n${server.output()}`);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export async function stopProcess(server: Started, graceMs = 5000): Promise<void> {
  if (!started.has(server)) return;
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  signalGroup(server.pid, 'SIGTERM');
  const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    signalGroup(server.pid, 'SIGKILL');
    await exited;
  }
  // Workers that outlived their primary are in the same group.
  signalGroup(server.pid, 'SIGKILL');
  started.delete(server);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((server) => stopProcess(server)));
}

/** Last resort on a synchronous exit: no waiting possible, so kill every group outright. */
export function killAllNow(): void {
  for (const server of started) signalGroup(server.pid, 'SIGKILL');
  started.clear();
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces), from field 3 on. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process ended while we read
  }
}

let runtimeBinary: string | undefined;

function isNode(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === (runtimeBinary ??= realpathSync(serverRuntime()));
  } catch {
    return false;
  }
}

/** The node processes of a server: the pid and its node descendants (cluster workers; not esbuild and the like). */
export function serverProcesses(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(Number(entry))?.[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree.filter(isNode);
}

/** Resident set size of one process, in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND : 0;
}

export interface ServerUsage {
  /** The largest resident set of any one process of the server. */
  maxRssBytes: number;
  processes: number;
  /** CPU seconds the server's processes used while measured (between start() and stop()). */
  cpuSeconds: number;
}

/**
 * Watches a server while a workload runs: the RSS of each of its processes every `everyMs`, and
 * its CPU time between each start() and stop() (the measured rounds, not the warm-up).
 */
export function watchServer(server: Started, everyMs = 250) {
  let maxRssBytes = 0;
  let pids: number[] = [];
  let cpuAtStart = 0;
  let cpu = 0;
  const sample = () => {
    pids = serverProcesses(server.pid);
    for (const pid of pids) maxRssBytes = Math.max(maxRssBytes, rssBytes(pid));
  };
  const cpuNow = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    /** Until the server is idle (under 10 % of a core for 200 ms), at most 30 s: work left in flight is done. */
    async settle() {
      const deadline = Date.now() + 30_000;
      sample();
      let before = cpuNow();
      while (Date.now() < deadline) {
        await sleep(200);
        const now = cpuNow();
        if (now - before < 0.02) return;
        before = now;
      }
    },
    start() {
      sample();
      cpuAtStart = cpuNow();
    },
    stop() {
      cpu += cpuNow() - cpuAtStart;
    },
    usage(): ServerUsage {
      clearInterval(timer);
      sample();
      return { maxRssBytes, processes: pids.length, cpuSeconds: cpu };
    },
  };
}
