import t from 'tap';
import { sql } from 'kysely';
import { migrate } from '../src/db/migrate.js';
import { KyselyAdapter } from '../src/oidc/adapter/kysely-adapter.js';
import { freshDatabase, onPostgres } from './helpers/database.js';

// On PostgreSQL, statements are prepared once per connection (src/db/prepared-statements.ts).
// PostgreSQL would then settle on one plan per statement after a few runs, and a plan made
// while a table was nearly empty (read it all) would be kept as the table grows to millions of
// rows. Every run is planned afresh instead (plan_cache_mode), which this checks.

t.test(
  'a statement prepared on an empty table still uses the index once the table has grown',
  { skip: !onPostgres && 'PostgreSQL only' },
  async (t) => {
    const fresh = await freshDatabase(t);
    const database = await fresh.open();
    t.teardown(() => database.close());
    await migrate(database.db);
    t.equal(
      (await sql<{ plan_cache_mode: string }>`show plan_cache_mode`.execute(database.db)).rows[0]?.plan_cache_mode,
      'force_custom_plan',
    );

    // One connection throughout, so that the statement prepared below is the one explained.
    await database.db.connection().execute(async (conn) => {
      const tokens = new KyselyAdapter('AccessToken', conn);
      // A young server: a few rows, and statistics saying so (autovacuum analyzes small tables early).
      for (let i = 0; i < 20; i++) await tokens.upsert(`token-${i}`, { accountId: '1', clientId: 'c' } as never, 3600);
      await sql`analyze oidc_payloads`.execute(conn);
      // Lookups by id, as requests make them (gathered into one statement per turn of the event loop).
      for (let i = 0; i < 10; i++)
        t.same(await Promise.all([tokens.find(`missing-${i}`), tokens.find(`other-${i}`)]), [undefined, undefined]);
      await sql`insert into oidc_payloads (model, key, payload, expires_at)
      select 'AccessToken', md5(g::text), '{}'::jsonb, now() + interval '1 hour' from generate_series(1, 50000) g`.execute(conn);
      const prepared = await sql<{ name: string }>`select name from pg_prepared_statements
      where statement like '%from "oidc_payloads"%' and statement like '%key = any(%'`.execute(conn);
      t.equal(prepared.rows.length, 1, 'the lookup is a prepared statement');
      const name = sql.id(prepared.rows[0]!.name);
      const plan = await sql<{ 'QUERY PLAN': string }>`explain execute ${name}('{AccessToken}', '{a,b}')`.execute(conn);
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      t.match(text, /Index Scan/, 'looked up through the index');
      t.notMatch(text, /Seq Scan/, text);
    });
  },
);
