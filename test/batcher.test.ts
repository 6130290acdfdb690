import t from 'tap';
import { MAX_BATCH, ReadBatcher, WriteBatcher } from '../src/oidc/adapter/batcher.js';

// Pure logic: the load/save functions are plain functions that record what they were given and
// answer when the test says so.

/** Lets a few turns of the event loop pass (dispatch waits one setImmediate, then promise callbacks run). */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A load whose calls are recorded and each answered by the test (`answer(i)`), found keys mapped to `v<key>`. */
function controlledLoad() {
  const calls: { keys: number[]; done: ReturnType<typeof deferred<void>> }[] = [];
  const load = async (keys: number[]) => {
    const done = deferred<void>();
    calls.push({ keys, done });
    await done.promise;
    return new Map(keys.filter((k) => k >= 0).map((k) => [k, `v${k}`]));
  };
  return { calls, load, answer: (i: number) => calls[i]!.done.resolve(), fail: (i: number, e: unknown) => calls[i]!.done.reject(e) };
}

t.test('ReadBatcher', async (t) => {
  t.test('lookups of one tick leave in one batch, each caller gets its own answer', async (t) => {
    const { calls, load, answer } = controlledLoad();
    const reads = new ReadBatcher(load);
    const answers = Promise.all([reads.get(3), reads.get(1), reads.get(-5), reads.get(2)]);
    t.equal(calls.length, 0, 'nothing is sent before the tick ends');
    await turns(1);
    t.same(
      calls.map((c) => c.keys),
      [[3, 1, -5, 2]],
      'one batch, keys in the order asked',
    );
    answer(0);
    t.same(await answers, ['v3', 'v1', undefined, 'v2'], 'a key the load does not return answers undefined');
  });

  t.test('the same key asked twice in a batch is loaded once, both callers answered', async (t) => {
    const { calls, load, answer } = controlledLoad();
    const reads = new ReadBatcher(load);
    const answers = Promise.all([reads.get(7), reads.get(8), reads.get(7)]);
    await turns(1);
    t.same(
      calls.map((c) => c.keys),
      [[7, 8]],
    );
    answer(0);
    t.same(await answers, ['v7', 'v8', 'v7']);
  });

  t.test('at most `inFlight` batches at once; later lookups wait and leave together', async (t) => {
    const { calls, load, answer } = controlledLoad();
    const reads = new ReadBatcher(load, 2);
    const first = reads.get(1);
    await turns();
    const second = reads.get(2);
    await turns();
    t.equal(calls.length, 2, 'two batches in flight');
    const later = [reads.get(3), reads.get(4)];
    await turns();
    const evenLater = reads.get(5);
    await turns();
    t.equal(calls.length, 2, 'nothing more is sent while two are in flight');
    answer(1);
    t.equal(await second, 'v2');
    await turns();
    t.same(calls[2]?.keys, [3, 4, 5], 'the waiting lookups leave as one larger batch');
    t.equal(calls.length, 3);
    answer(0);
    answer(2);
    t.same(await Promise.all([first, ...later, evenLater]), ['v1', 'v3', 'v4', 'v5']);
  });

  t.test('a lookup never joins a batch already sent', async (t) => {
    const { calls, load, answer } = controlledLoad();
    const reads = new ReadBatcher(load);
    const a = reads.get(1);
    await turns();
    const b = reads.get(1);
    await turns();
    t.same(
      calls.map((c) => c.keys),
      [[1], [1]],
      'asked again in a batch of its own',
    );
    answer(0);
    answer(1);
    t.same(await Promise.all([a, b]), ['v1', 'v1']);
  });

  t.test('a failed load rejects every caller of that batch; the next batch works', async (t) => {
    const { calls, load, answer, fail } = controlledLoad();
    const reads = new ReadBatcher(load);
    const broken = [reads.get(1), reads.get(2), reads.get(1)];
    await turns();
    const boom = new Error('boom');
    fail(0, boom);
    for (const p of broken) await t.rejects(p, boom);
    const after = reads.get(3);
    await turns();
    t.same(calls[1]?.keys, [3]);
    answer(1);
    t.equal(await after, 'v3');
  });

  t.test('a load that throws (async) rejects its callers; the batcher goes on', async (t) => {
    let call = 0;
    const reads = new ReadBatcher<number, string>(async (keys) => {
      if (call++ === 0) throw new Error('first fails');
      return new Map(keys.map((k) => [k, `ok${k}`]));
    });
    await t.rejects(Promise.all([reads.get(1), reads.get(2)]), { message: 'first fails' });
    t.equal(await reads.get(1), 'ok1');
  });

  t.test(`more than MAX_BATCH keys are split into loads of at most ${MAX_BATCH}`, async (t) => {
    const sizes: number[] = [];
    const reads = new ReadBatcher<number, number>(async (keys) => {
      sizes.push(keys.length);
      if (keys.includes(MAX_BATCH)) throw new Error('second part fails');
      return new Map(keys.map((k) => [k, k * 2]));
    });
    const keys = Array.from({ length: MAX_BATCH * 2 + 1 }, (_, i) => i);
    const answers = await Promise.allSettled(keys.map((k) => reads.get(k)));
    t.same(sizes, [MAX_BATCH, MAX_BATCH, 1]);
    t.same(answers[0], { status: 'fulfilled', value: 0 });
    t.same(answers[MAX_BATCH - 1], { status: 'fulfilled', value: (MAX_BATCH - 1) * 2 });
    t.equal(answers[MAX_BATCH]?.status, 'rejected', 'only the failing part is rejected');
    t.equal(answers[MAX_BATCH * 2 - 1]?.status, 'rejected');
    t.same(answers[MAX_BATCH * 2], { status: 'fulfilled', value: MAX_BATCH * 4 });
  });
});

t.test('WriteBatcher', async (t) => {
  type Item = { id: string; v: number };

  t.test('writes of one tick are saved together; each settles only once saved', async (t) => {
    const saved: Item[][] = [];
    const gate = deferred<void>();
    const writes = new WriteBatcher<Item>(
      (i) => i.id,
      async (items) => {
        saved.push(items);
        await gate.promise;
      },
    );
    let settled = 0;
    const acks = [writes.add({ id: 'a', v: 1 }), writes.add({ id: 'b', v: 2 })].map((p) => p.then(() => settled++));
    await turns();
    t.same(saved, [
      [
        { id: 'a', v: 1 },
        { id: 'b', v: 2 },
      ],
    ]);
    t.equal(settled, 0, 'not acknowledged before the save is done');
    gate.resolve();
    await Promise.all(acks);
    t.equal(settled, 2);
  });

  t.test('the same key twice in a batch keeps the last item; both writers are answered', async (t) => {
    const saved: Item[][] = [];
    const writes = new WriteBatcher<Item>(
      (i) => i.id,
      async (items) => void saved.push(items),
    );
    await Promise.all([writes.add({ id: 'a', v: 1 }), writes.add({ id: 'b', v: 2 }), writes.add({ id: 'a', v: 3 })]);
    t.same(saved, [
      [
        { id: 'a', v: 3 },
        { id: 'b', v: 2 },
      ],
    ]);
  });

  t.test('at most `inFlight` saves at once; the rest wait and leave together', async (t) => {
    const saved: { ids: string[]; gate: ReturnType<typeof deferred<void>> }[] = [];
    const writes = new WriteBatcher<Item>(
      (i) => i.id,
      async (items) => {
        const gate = deferred<void>();
        saved.push({ ids: items.map((i) => i.id), gate });
        await gate.promise;
      },
      1,
    );
    const first = writes.add({ id: 'a', v: 1 });
    await turns();
    const rest = [writes.add({ id: 'b', v: 1 })];
    await turns();
    rest.push(writes.add({ id: 'c', v: 1 }));
    await turns();
    t.same(
      saved.map((s) => s.ids),
      [['a']],
      'one save in flight, the others wait',
    );
    saved[0]!.gate.resolve();
    await first;
    await turns();
    t.same(
      saved.map((s) => s.ids),
      [['a'], ['b', 'c']],
    );
    saved[1]!.gate.resolve();
    await Promise.all(rest);
  });

  t.test('a failed save rejects every writer of that batch; the next batch works', async (t) => {
    let call = 0;
    const saved: string[][] = [];
    const writes = new WriteBatcher<Item>(
      (i) => i.id,
      async (items) => {
        if (call++ === 0) throw new Error('disk full');
        saved.push(items.map((i) => i.id));
      },
    );
    const failed = [writes.add({ id: 'a', v: 1 }), writes.add({ id: 'a', v: 2 }), writes.add({ id: 'b', v: 1 })];
    for (const p of failed) await t.rejects(p, { message: 'disk full' });
    await writes.add({ id: 'c', v: 1 });
    t.same(saved, [['c']]);
  });

  t.test(`more than MAX_BATCH items are saved in parts of at most ${MAX_BATCH}`, async (t) => {
    const sizes: number[] = [];
    const writes = new WriteBatcher<Item>(
      (i) => i.id,
      async (items) => void sizes.push(items.length),
    );
    await Promise.all(Array.from({ length: MAX_BATCH + 5 }, (_, i) => writes.add({ id: `k${i}`, v: i })));
    t.same(sizes, [MAX_BATCH, 5]);
  });
});
