import { hashPassword, SCRYPT_PARAMS, verifyPassword } from '../../src/accounts/password.js';
import type { Driver, Round } from './load/measurement.js';

export const passwordHashLabel = () => `scrypt N=2^${Math.log2(SCRYPT_PARAMS.N)} r=${SCRYPT_PARAMS.r} p=${SCRYPT_PARAMS.p}`;

/** Checks started before the end and finished after it are not counted, as with a server's. */
async function verifications(stored: string, concurrency: number, seconds: number): Promise<Round> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const ok = await verifyPassword('bench password', stored);
        if (performance.now() > deadline) break;
        if (ok) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  return { latencies, errors, seconds };
}

/**
 * The raw rate of the server's password check (verifyPassword, our scrypt parameters), here in
 * this process with as many checks in flight as the server gets connections: libuv's thread
 * pool runs them, as it does in the server. This bounds the password grant.
 */
export async function passwordHashing(connections: number): Promise<Driver> {
  const stored = await hashPassword('bench password');
  return {
    async warm(seconds) {
      await verifications(stored, connections, seconds);
    },
    round: (seconds) => verifications(stored, connections, seconds),
    close() {},
  };
}
