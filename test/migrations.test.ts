import t from 'tap';
import { readdir } from 'node:fs/promises';
import { migrate } from '../src/db/migrate.js';
import { freshDatabase, onPostgres } from './helpers/database.js';

const allMigrations = async () => (await readdir(new URL('../db/migrations/', import.meta.url))).filter((f) => f.endsWith('.sql')).sort();

t.test('fresh, then re-run as a no-op', async (t) => {
  const fresh = await freshDatabase(t);
  const database = await fresh.open();
  t.teardown(() => database.close());
  t.same(await migrate(database.db), await allMigrations(), 'every migration applied, in order');
  t.same(await migrate(database.db), [], 'nothing to do the second time');
  const recorded = await database.db.selectFrom('schema_migrations').select('name').orderBy('name').execute();
  t.same(
    recorded.map((r) => r.name),
    await allMigrations(),
  );
});

t.test('two concurrent runners apply each migration once', async (t) => {
  const fresh = await freshDatabase(t);
  const a = await fresh.open();
  t.teardown(() => a.close());
  // PostgreSQL: two pools, as two processes would have. Embedded: one process, one database.
  const b = onPostgres ? await fresh.open() : a;
  if (b !== a) t.teardown(() => b.close());
  const [first, second] = await Promise.all([migrate(a.db), migrate(b.db)]);
  t.same([...first, ...second].sort(), await allMigrations(), 'between them, each migration exactly once');
  t.ok(first.length === 0 || second.length === 0, 'one runner did everything, the other waited and found nothing to do');
});
