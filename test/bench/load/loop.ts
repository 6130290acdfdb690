import type { Driver, Round } from './measurement.js';

/** A virtual user: set up once, then repeats one operation (a request or a whole flow). */
export interface LoopUser {
  /** One operation; throws when it does not end as it should. */
  step(): Promise<void>;
  close(): void;
}

/** Every user repeats its operation until `seconds` are over; what finishes after that is not counted. */
async function drive(users: LoopUser[], seconds: number): Promise<Round> {
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
          if (performance.now() <= deadline) latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { latencies, errors, seconds };
}

/**
 * For workloads autocannon cannot express (state carried from one response to the next request,
 * cookies): users made once, each on its own keep-alive connection.
 */
export async function loopDriver(makeUser: (index: number) => Promise<LoopUser>, connections: number): Promise<Driver> {
  const users = await Promise.all(Array.from({ length: connections }, (_, i) => makeUser(i)));
  return {
    async warm(seconds) {
      await drive(users, seconds);
    },
    round: (seconds) => drive(users, seconds),
    close() {
      for (const user of users) user.close();
    },
  };
}
