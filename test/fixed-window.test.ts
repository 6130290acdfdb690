import t from 'tap';
import { migrate } from '../src/db/migrate.js';
import { FixedWindows, lockOrder } from '../src/limits/fixed-window.js';
import { freshDatabase, onPostgres } from './helpers/database.js';

/** FixedWindows over a real database: counts, their order, give-backs, and concurrency. */

async function windows(t: Parameters<typeof freshDatabase>[0]) {
  const fresh = await freshDatabase(t);
  const database = await fresh.open();
  t.teardown(() => database.close());
  await migrate(database.db);
  return new FixedWindows(database.db, 'credential_failures', 900);
}

t.test('lockOrder: each subject once, in UTF-8 byte order (PostgreSQL\'s "C" collation)', async (t) => {
  t.same(lockOrder(['user:b', 'ip:1', 'user:b', 'user:a']), ['ip:1', 'user:a', 'user:b']);
  // U+FF21 is EF BC A1 in UTF-8, U+1F600 F0 9F 98 80: UTF-16 code units would put the emoji first.
  t.same(lockOrder(['user:\u{1F600}', 'user:\uFF21']), ['user:\uFF21', 'user:\u{1F600}']);
});

t.test('hit counts each subject once per call and answers in the order asked', async (t) => {
  const w = await windows(t);
  const first = await w.hit(['user:zed', 'ip:10.0.0.1']);
  t.same(
    first.map((c) => [c.subject, c.hits]),
    [
      ['user:zed', 1],
      ['ip:10.0.0.1', 1],
    ],
  );
  t.ok(
    first.every((c) => c.retryAfter > 890 && c.retryAfter <= 900),
    'the window just started',
  );
  const second = await w.hit(['user:zed', 'ip:10.0.0.1', 'user:zed']);
  t.same(
    second.map((c) => [c.subject, c.hits]),
    [
      ['user:zed', 2],
      ['ip:10.0.0.1', 2],
    ],
  );
  await w.release(['ip:10.0.0.1', 'user:zed']);
  await w.release(['user:zed']);
  await w.release(['user:zed']);
  t.same(
    (await w.peek(['user:zed', 'ip:10.0.0.1', 'user:nobody'])).map((c) => [c.subject, c.hits]),
    [
      ['user:zed', 0],
      ['ip:10.0.0.1', 1],
      ['user:nobody', 0],
    ],
    'a release never goes below zero',
  );
});

t.test(
  'concurrent hits and releases over shared subjects all complete (no deadlock)',
  { skip: !onPostgres && 'one connection: nothing runs concurrently' },
  async (t) => {
    const w = await windows(t);
    // As sign-ins do: five people behind one address, each attempt a hit then a release of both rows.
    const errors: unknown[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 600) {
        const subjects = [`user:u${next++ % 5}`, 'ip:192.0.2.7'];
        try {
          await w.hit(subjects);
          await w.release(subjects);
        } catch (err) {
          errors.push(err);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    t.same(
      errors.map((err) => (err instanceof Error ? err.message : String(err))),
      [],
      'every statement completed',
    );
    t.same(
      (await w.peek(['ip:192.0.2.7', 'user:u0'])).map((c) => c.hits),
      [0, 0],
      'every hit was given back',
    );
  },
);
