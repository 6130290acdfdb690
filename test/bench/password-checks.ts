// A child of the bench that checks passwords as the server does (verifyPassword, our argon2id
// parameters), with the thread pool the server's processes have between them
// (UV_THREADPOOL_SIZE, set by whoever starts it). Driven over IPC by password-rate.ts.
import { hashPassword, verifyPassword } from '../../src/accounts/password.js';
import type { Round } from './load/measurement.js';

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

const stored = await hashPassword('bench password');
process.on('message', (message: { concurrency: number; seconds: number }) => {
  void verifications(stored, message.concurrency, message.seconds).then((round) => process.send!(round));
});
process.send!('ready');
