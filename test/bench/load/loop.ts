import { percentile, type LoadSettings, type Measurement } from './measurement.js';

/** A virtual user: set up once, then repeats one operation (a request or a whole flow). */
export interface LoopUser {
  /** One operation; throws when it does not end as it should. */
  step(): Promise<void>;
  close(): void;
}

async function drive(users: LoopUser[], seconds: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    users.map(async (user) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await user.step();
          if (record) latencies.push(performance.now() - t0);
        } catch {
          if (record) errors++;
        }
      }
    }),
  );
  return { latencies, errors, elapsed: (performance.now() - started) / 1000 };
}

/**
 * For workloads autocannon cannot express (state carried from one response to the next request,
 * cookies): `connections` users, each on its own keep-alive connection, bounded in time.
 */
export async function runLoop(makeUser: (index: number) => Promise<LoopUser>, load: LoadSettings): Promise<Measurement> {
  const users = await Promise.all(Array.from({ length: load.connections }, (_, i) => makeUser(i)));
  try {
    if (load.warmup > 0) await drive(users, load.warmup, false);
    load.probe?.start();
    const { latencies, errors, elapsed } = await drive(users, load.duration, true);
    load.probe?.stop();
    return {
      rate: latencies.length / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      errors,
      operations: latencies.length,
      seconds: elapsed,
    };
  } finally {
    for (const user of users) user.close();
  }
}
