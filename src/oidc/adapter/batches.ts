import type { CompiledQuery, Kysely } from 'kysely';
import { ReadBatcher, WriteBatcher } from './batcher.js';
import { slotOf } from '../../db/cache/row-cache.js';
import type { Schema } from '../../db/schema.js';
import { DatabaseUnavailableError, guarded } from '../../db/unavailable.js';
import * as statements from './queries.js';

/** A row as the adapter reads it. */
export interface StoredRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  expires_at: Date | null;
  grant_key: string | null;
}

/** A row to insert or replace (without a user code: device codes are saved on their own). */
export interface Save {
  model: string;
  key: string;
  payload: string;
  grant_key: string | null;
  uid_key: string | null;
  expiresIn: number | null;
}

/** The lookups by key and the saves of one database, each gathered into one query per event-loop turn. */
export interface Batches {
  /** By slot ("<model>\0<key>"). */
  reads: ReadBatcher<string, StoredRow>;
  saves: WriteBatcher<Save>;
}

const batchesByDatabase = new WeakMap<Kysely<Schema>, Batches>();

function create(db: Kysely<Schema>): Batches {
  const run = <R>(query: CompiledQuery) => guarded(async () => (await db.executeQuery<R>(query)).rows);
  const saveOne = (s: Save) => run(statements.upsert.keepSealedJti.bind(db, { ...s, user_code_key: null }));
  return {
    reads: new ReadBatcher<string, StoredRow>(async (slots) => {
      const wanted = slots.map((slot) => slot.split('\u0000') as [string, string]);
      const models = [...new Set(wanted.map(([model]) => model))];
      const keys = [...new Set(wanted.map(([, key]) => key))];
      const rows = await run<StoredRow & { model: string; key: string }>(statements.findMany.bind(db, { models, keys }));
      return new Map(rows.map(({ model, key, ...row }) => [slotOf(model, key), row]));
    }),
    saves: new WriteBatcher<Save>(
      (s) => slotOf(s.model, s.key),
      async (saves) => {
        if (saves.length === 1) return void (await saveOne(saves[0]!));
        const column = <C extends keyof Save>(c: C) => saves.map((s) => s[c]);
        try {
          await run(
            statements.upsertMany.bind(db, {
              models: column('model'),
              keys: column('key'),
              payloads: column('payload'),
              grant_keys: column('grant_key'),
              uid_keys: column('uid_key'),
              expiresIns: column('expiresIn'),
            }),
          );
        } catch (err) {
          // One bad row must not fail the others: save them one by one (unless the database is gone).
          if (err instanceof DatabaseUnavailableError) throw err;
          await Promise.all(saves.map(saveOne));
        }
      },
    ),
  };
}

/** The batches of `db`; none inside a transaction, whose statements stay on its connection, in order. */
export function batchesFor(db: Kysely<Schema>): Batches | undefined {
  if (db.isTransaction) return undefined;
  let batches = batchesByDatabase.get(db);
  if (!batches) batchesByDatabase.set(db, (batches = create(db)));
  return batches;
}
