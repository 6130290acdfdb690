import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { passwordHashLabel } from '../../src/accounts/password.js';
import type { Driver, Round } from './load/measurement.js';
import { startProcess, stopProcess } from './processes.js';

export { passwordHashLabel };

const DEFAULT_THREAD_POOL = 4;

/** The checks the server can run at once: libuv's threads in each of its processes. */
export function serverThreads(workers: string): number {
  const perProcess = Number(process.env.UV_THREADPOOL_SIZE) || DEFAULT_THREAD_POOL;
  return perProcess * (workers === 'auto' ? availableParallelism() : Math.max(1, Number(workers)));
}

/**
 * The raw rate of the server's password check (verifyPassword, our argon2id parameters), with as
 * many checks in flight as the server gets connections and as many threads running them as the
 * server has (in a process of its own, sized so). This bounds the password grant.
 */
export async function passwordHashing(connections: number, threads: number): Promise<Driver> {
  const child = startProcess(
    'password checks',
    ['--import', 'tsx', fileURLToPath(new URL('password-checks.ts', import.meta.url))],
    { UV_THREADPOOL_SIZE: String(threads) },
    { ipc: true },
  );
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      const onExit = () => reject(new Error(`the password-check process exited:\n${child.output()}`));
      child.child.once('exit', onExit);
      child.child.once('message', (message) => {
        child.child.off('exit', onExit);
        resolve(message);
      });
    });
  await next(); // ready
  const run = async (seconds: number) => {
    const answer = next();
    child.child.send({ concurrency: connections, seconds });
    return (await answer) as Round;
  };
  return {
    async warm(seconds) {
      await run(seconds);
    },
    round: run,
    close() {
      void stopProcess(child);
    },
  };
}
