import t from 'tap';
import { QueueFull, WorkQueue } from '../src/limits/work-queue.js';

/** A job that finishes when told to. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

t.test('at most `concurrency` jobs run at once, the next waits its turn', async (t) => {
  const queue = new WorkQueue(2, 10);
  const gates = [gate(), gate(), gate()];
  const started: number[] = [];
  const runs = gates.map((g, i) =>
    queue.run(async () => {
      started.push(i);
      await g.opened;
      return i;
    }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  t.same(started, [0, 1], 'two running');
  t.equal(queue.running, 2);
  t.equal(queue.waiting, 1);
  gates[0]!.open();
  t.equal(await runs[0], 0);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(started, [0, 1, 2], 'the third starts when the first is done');
  gates[1]!.open();
  gates[2]!.open();
  t.same(await Promise.all(runs), [0, 1, 2], 'each gets its own result');
  t.equal(queue.running, 0, 'nothing left running');
});

t.test('beyond the line, work is refused at once with QueueFull (503, Retry-After)', async (t) => {
  const queue = new WorkQueue(1, 1);
  const g = gate();
  const first = queue.run(() => g.opened);
  const second = queue.run(async () => 'second');
  await t.rejects(
    queue.run(async () => 'third'),
    QueueFull,
  );
  const err = await queue.run(async () => 'fourth').catch((e: unknown) => e);
  t.match(err, { status: 503, error: 'temporarily_unavailable', expose: true });
  t.ok((err as QueueFull).retryAfter > 0);
  g.open();
  await first;
  t.equal(await second, 'second', 'the one that waited still runs');
});

t.test('a failing job frees its place', async (t) => {
  const queue = new WorkQueue(1, 0);
  await t.rejects(
    queue.run(async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  t.equal(queue.running, 0);
  t.equal(await queue.run(async () => 'after'), 'after');
});
