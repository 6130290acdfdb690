import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The runtime of the image and of CI: every server the bench starts runs on it. */
export const RUNTIME_MAJOR = 24;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FETCHED = `${ROOT}.bench/node${RUNTIME_MAJOR}`;
const FETCHED_NODE = `${FETCHED}/node_modules/node/bin/node`;

/**
 * The environment the image gives the server (Dockerfile), for every server the bench starts,
 * like for like: glibc's malloc keeps at most two arenas, instead of eight per core for the
 * threads (libuv's pool, V8's helpers) that allocate, which otherwise hold on to memory.
 */
export const SERVER_ENV = { MALLOC_ARENA_MAX: '2' } as const;

let chosen: string | undefined;

/**
 * The node binary the servers (references and Latchkey alike) run on: this one when it is Node
 * 24, otherwise Node 24 from the npm registry (package `node@24`), fetched once into
 * .bench/node24 as CI does. Measuring the production runtime matters here: on Node 20 and 22,
 * the AsyncLocalStorage that oidc-provider enters for every request costs every later promise a
 * hook call; Node 24 keeps that context without hooks.
 */
export function serverRuntime(): string {
  if (chosen) return chosen;
  if (Number(process.versions.node.split('.')[0]) === RUNTIME_MAJOR) return (chosen = process.execPath);
  if (!existsSync(FETCHED_NODE)) {
    process.stdout.write(`fetching Node ${RUNTIME_MAJOR} from the npm registry into .bench/node${RUNTIME_MAJOR} (once)\n`);
    mkdirSync(FETCHED, { recursive: true });
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', FETCHED, `node@${RUNTIME_MAJOR}`], { stdio: 'ignore' });
  }
  return (chosen = FETCHED_NODE);
}

export function runtimeVersion(): string {
  return execFileSync(serverRuntime(), ['--version']).toString().trim();
}
