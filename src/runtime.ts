import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node.js LTS lines Latchkey runs on; 24 is the one of the image, CI and the benchmark. */
export const SUPPORTED_MAJORS = [22, 24] as const;
export const PREFERRED_MAJOR = 24;

// This file is src/runtime.ts or dist/runtime.js: the project's root is one folder up either way.
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function isSupported(version: string = process.versions.node): boolean {
  return (SUPPORTED_MAJORS as readonly number[]).includes(Number(version.split('.')[0]));
}

/**
 * The bin folder of Node `major` from the npm registry (package `node@major`), fetched once
 * into .runtime/node<major>. The registry is the one source of packages every machine here
 * reaches; no download script of Node's own is involved.
 */
export function fetchedNodeBinDir(major: number = PREFERRED_MAJOR): string {
  const prefix = join(ROOT, '.runtime', `node${major}`);
  const binDir = join(prefix, 'node_modules', 'node', 'bin');
  if (!existsSync(join(binDir, 'node'))) {
    process.stderr.write(`latchkey: fetching Node ${major} from the npm registry into .runtime/node${major} (once)\n`);
    mkdirSync(prefix, { recursive: true });
    // --prefix: without it npm would walk up to the project's package.json and install there.
    execFileSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `node@${major}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return binDir;
}

/** The bin folder of Node 24: this process's own when it is that, else a fetched one. */
export function preferredNodeBinDir(): string {
  return Number(process.versions.node.split('.')[0]) === PREFERRED_MAJOR ? dirname(process.execPath) : fetchedNodeBinDir();
}

/** The bin folder of a supported node: this process's own, or a fetched Node 24. */
export function supportedNodeBinDir(): string {
  return isSupported() ? dirname(process.execPath) : fetchedNodeBinDir();
}

/**
 * Runs a command with a supported node first on PATH and exits with its code. Ctrl-C reaches
 * the child from the terminal itself; a process manager's SIGTERM is passed on.
 */
export function runWithSupportedNode(command: string, args: readonly string[]): void {
  const binDir = supportedNodeBinDir();
  const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` } });
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}

/**
 * For the entry points (server, command line): on an unsupported node, runs this same script
 * with the same node flags and arguments on a supported one and returns true; otherwise false.
 */
export function relaunchedOnSupportedNode(): boolean {
  if (isSupported()) return false;
  process.stderr.write(
    `latchkey: Node ${process.versions.node} is not supported (${SUPPORTED_MAJORS.join(' or ')} LTS): running on Node ${PREFERRED_MAJOR}\n`,
  );
  runWithSupportedNode(join(fetchedNodeBinDir(), 'node'), [...process.execArgv, ...process.argv.slice(1)]);
  return true;
}
