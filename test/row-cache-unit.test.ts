import t, { type Test } from 'tap';
import { RowCache, slotOf, slotOfNotification } from '../src/db/cache/row-cache.js';

// The RowCache alone, without a database: the change feed is played by the test (feedUp,
// feedDown, and forget as the feed calls it when another process changes a row).

const TTL_MS = 30_000;
const GENERATION_SIZE = 10_000;

/** A cache whose feed is up, and a count of the times it asked for the feed to start. */
function listening() {
  let starts = 0;
  const cache = new RowCache(() => starts++);
  cache.feedUp();
  return { cache, starts: () => starts };
}

/** Replaces Date.now for the rest of the test `t`. */
function frozenClock(t: Test, start: number) {
  const real = Date.now;
  let now = start;
  Date.now = () => now;
  t.teardown(() => void (Date.now = real));
  return (ms: number) => void (now += ms);
}

t.test('slotOf and slotOfNotification', async (t) => {
  t.equal(slotOf('Client', 'app-1'), 'Client\u0000app-1');
  t.equal(slotOf('account', 42), 'account\u000042');
  t.equal(slotOfNotification('Client:app-1'), slotOf('Client', 'app-1'));
  t.equal(slotOfNotification('account:42'), slotOf('account', 42));
  t.equal(slotOfNotification('Grant:a:b:c'), slotOf('Grant', 'a:b:c'), 'only the first colon separates');
});

t.test('while the feed is not listening nothing is served nor stored, and get asks for the feed', async (t) => {
  let starts = 0;
  const cache = new RowCache(() => starts++);
  cache.set('s', { a: 1 }, cache.generation);
  t.equal(cache.get('s'), undefined);
  t.equal(starts, 1, 'get asked the feed to start');
  t.equal(cache.get('s'), undefined);
  t.equal(starts, 2, 'and asks again while it is not up');
  cache.feedUp();
  t.equal(cache.get('s'), undefined, 'what was set before the feed was up was not kept');
  t.equal(starts, 2, 'a listening cache does not ask for the feed');
});

t.test('after feedUp a stored value is served, a copy unless shared', async (t) => {
  const { cache } = listening();
  const row = { name: 'app', uris: ['https://a.example'] };
  cache.set('s', row, cache.generation);
  row.name = 'changed after set';
  const first = cache.get<typeof row>('s');
  t.same(first, { name: 'app', uris: ['https://a.example'] }, 'set stored a copy');
  first!.uris.push('https://evil.example');
  t.same(cache.get('s'), { name: 'app', uris: ['https://a.example'] }, 'get returned a copy');
  t.not(cache.get('s'), cache.get('s'));

  const sharedRow = { n: 1 };
  cache.set('shared', sharedRow, cache.generation, { shared: true });
  t.equal(cache.get('shared', true), sharedRow, 'shared: the very object, stored and served');
  t.not(cache.get('shared'), sharedRow, 'a non-shared get of it is still a copy');
  t.same(cache.get('shared'), { n: 1 });
  t.equal(cache.get('missing'), undefined);
});

t.test('forget drops one entry, forgetGrant the entries of that grant only', async (t) => {
  const { cache } = listening();
  cache.set('a', 'A', cache.generation);
  cache.set('b', 'B', cache.generation);
  cache.set('t1', 'T1', cache.generation, { grantKey: 'g1' });
  cache.set('t2', 'T2', cache.generation, { grantKey: 'g1' });
  cache.set('t3', 'T3', cache.generation, { grantKey: 'g2' });
  cache.forget('a');
  t.equal(cache.get('a'), undefined);
  t.equal(cache.get('b'), 'B');
  cache.forgetGrant('g1');
  t.same(
    ['t1', 't2', 't3', 'b'].map((s) => cache.get(s)),
    [undefined, undefined, 'T3', 'B'],
  );
  cache.forget('never-stored');
  t.equal(cache.get('b'), 'B', 'forgetting an unknown slot drops nothing else');
});

t.test('a read that began before a forget is not stored (a change by another process)', async (t) => {
  const { cache } = listening();
  cache.set('s', 'old', cache.generation);
  // A request misses, starts reading the row...
  cache.forget('s');
  const readStartedAt = cache.generation;
  // ...meanwhile another process changes the row, and the feed forgets it.
  cache.forget('s');
  cache.set('s', 'read before the change', readStartedAt);
  t.equal(cache.get('s'), undefined, 'the possibly stale read was not stored');
  const again = cache.generation;
  cache.set('s', 'new', again);
  t.equal(cache.get('s'), 'new', 'a read begun after the change is stored');

  for (const [what, invalidate] of [
    ['forgetGrant', () => cache.forgetGrant('other')],
    ['forget of another slot', () => cache.forget('other')],
    ['clear', () => cache.clear()],
  ] as const) {
    const started = cache.generation;
    invalidate();
    t.not(cache.generation, started, `${what} bumps the generation`);
    cache.set('late', what, started);
    t.equal(cache.get('late'), undefined, `a read begun before ${what} is not stored`);
  }
});

t.test('feedDown empties the cache and bypasses it until the feed is up again', async (t) => {
  const { cache, starts } = listening();
  cache.set('s', 'v', cache.generation);
  const started = cache.generation;
  cache.feedDown();
  t.equal(cache.get('s'), undefined);
  t.equal(starts(), 1, 'asks for the feed');
  cache.set('s', 'while down', cache.generation);
  t.equal(cache.get('s'), undefined, 'not stored while down');
  cache.feedUp();
  t.equal(cache.get('s'), undefined, 'nothing from before the outage survives');
  cache.set('s', 'read during the outage', started);
  t.equal(cache.get('s'), undefined, 'a read begun before the outage is not stored');
  cache.set('s', 'fresh', cache.generation);
  t.equal(cache.get('s'), 'fresh');
});

t.test('an entry lives until its row expires, or 30 s, whichever is sooner', async (t) => {
  const advance = frozenClock(t, 1_000_000);
  const { cache } = listening();
  const now = Date.now();
  cache.set('past', 'p', cache.generation, { expiresAt: new Date(now - 1) });
  t.equal(cache.get('past'), undefined, 'an already expired row is not served');
  cache.set('soon', 's', cache.generation, { expiresAt: new Date(now + 5_000) });
  cache.set('late', 'l', cache.generation, { expiresAt: new Date(now + 3_600_000) });
  cache.set('never', 'n', cache.generation, { expiresAt: null });
  advance(4_999);
  t.equal(cache.get('soon'), 's');
  advance(1);
  t.equal(cache.get('soon'), undefined, 'gone at the row expiry');
  t.equal(cache.get('late'), 'l');
  advance(TTL_MS - 5_001);
  t.same([cache.get('late'), cache.get('never')], ['l', 'n'], 'still there just before 30 s');
  advance(1);
  t.same([cache.get('late'), cache.get('never')], [undefined, undefined], 'gone at 30 s even if the row lives longer');
});

t.test('at most two generations are kept: the oldest is dropped, a read entry is kept', async (t) => {
  const { cache } = listening();
  const gen = cache.generation;
  cache.set('first', 1, gen, { shared: true });
  cache.set('read-often', 2, gen, { shared: true });
  for (let i = 2; i < GENERATION_SIZE; i++) cache.set(`a${i}`, i, gen, { shared: true });
  // The first generation is full: it is now the older one, still served.
  t.equal(cache.get('first', true), 1);
  t.equal(cache.get('read-often', true), 2, 'read from the older generation, so moved to the recent one');
  for (let i = 0; i < GENERATION_SIZE - 2; i++) cache.set(`b${i}`, i, gen, { shared: true });
  // That makes the second generation full as well: the first one is dropped.
  t.equal(cache.get('a2', true), undefined, 'the oldest entries are dropped');
  t.equal(cache.get('read-often', true), 2, 'an entry read recently survives');
  t.equal(cache.get('b0', true), 0);
  t.equal(cache.get(`b${GENERATION_SIZE - 3}`, true), GENERATION_SIZE - 3);
});
