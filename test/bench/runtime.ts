import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fetchedNodeBinDir, PREFERRED_MAJOR } from '../../src/runtime.js';

/** The runtime of the image and of CI: every server the bench starts runs on it. */
export const RUNTIME_MAJOR = PREFERRED_MAJOR;

/**
 * The environment the image gives the server (Dockerfile), for every server the bench starts,
 * like for like: glibc's malloc keeps at most two arenas, instead of eight per core for the
 * threads (libuv's pool, V8's helpers) that allocate, which otherwise hold on to memory.
 */
export const SERVER_ENV = { MALLOC_ARENA_MAX: '2' } as const;

let chosen: string | undefined;

/**
 * The node binary the servers (references and Latchkey alike) run on: this one when it is Node
 * 24, otherwise Node 24 from the npm registry, fetched once into .runtime/node24 as CI does.
 * Measuring the production runtime matters here: on Node 20 and 22, the AsyncLocalStorage that
 * oidc-provider enters for every request costs every later promise a hook call; Node 24 keeps
 * that context without hooks.
 */
export function serverRuntime(): string {
  if (chosen) return chosen;
  if (Number(process.versions.node.split('.')[0]) === RUNTIME_MAJOR) return (chosen = process.execPath);
  return (chosen = join(fetchedNodeBinDir(RUNTIME_MAJOR), 'node'));
}

export function runtimeVersion(): string {
  return execFileSync(serverRuntime(), ['--version']).toString().trim();
}
