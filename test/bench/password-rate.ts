import { hashPassword, SCRYPT_PARAMS, verifyPassword } from '../../src/accounts/password.js';
import { percentile, type LoadSettings, type Measurement } from './load/measurement.js';

export const passwordHashLabel = () => `scrypt N=2^${Math.log2(SCRYPT_PARAMS.N)} r=${SCRYPT_PARAMS.r} p=${SCRYPT_PARAMS.p}`;

async function verifications(stored: string, concurrency: number, seconds: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const ok = await verifyPassword('bench password', stored);
        if (!record) continue;
        if (ok) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  return { latencies, errors, elapsed: (performance.now() - started) / 1000 };
}

/**
 * The raw rate of the server's password check (verifyPassword, our scrypt parameters), here in
 * this process with as many checks in flight as the server gets connections: libuv's thread
 * pool runs them, as it does in the server. This bounds the password grant.
 */
export async function measurePasswordHashing(load: LoadSettings): Promise<Measurement> {
  const stored = await hashPassword('bench password');
  if (load.warmup > 0) await verifications(stored, load.connections, load.warmup, false);
  load.probe?.start();
  const { latencies, errors, elapsed } = await verifications(stored, load.connections, load.duration, true);
  load.probe?.stop();
  return {
    rate: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    operations: latencies.length,
    seconds: elapsed,
  };
}
