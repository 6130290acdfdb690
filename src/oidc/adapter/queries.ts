import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { Schema } from '../../db/schema.js';

/**
 * The adapter's statements, built with Kysely once and then only re-bound: building and
 * compiling a query per call costs more than the database spends answering it. Each statement
 * has named parameters, filled in by position at every call.
 */
class Statement<P extends string> {
  #compiled: CompiledQuery | undefined;
  #slots: number[] = [];

  constructor(
    private readonly names: readonly P[],
    private readonly build: (db: Kysely<Schema>, param: (name: P) => unknown) => { compile(): CompiledQuery },
  ) {}

  bind(db: Kysely<Schema>, values: Record<P, unknown>): CompiledQuery {
    if (!this.#compiled) {
      const markers = new Map<string, P>(this.names.map((name) => [`\u0000${name}`, name]));
      // Without plugins: the row cache's write watcher must not take these for outside writes.
      const compiled = this.build(db.withoutPlugins(), (name) => `\u0000${name}`).compile();
      this.#slots = compiled.parameters.map((p) => (typeof p === 'string' && markers.has(p) ? this.names.indexOf(markers.get(p)!) : -1));
      if (this.#slots.some((slot) => slot < 0)) throw new Error('every parameter of a prepared adapter statement must be named');
      this.#compiled = compiled;
    }
    const compiled = this.#compiled;
    return { ...compiled, parameters: this.#slots.map((slot) => values[this.names[slot]!]) };
  }
}

const live = sql<boolean>`(expires_at is null or expires_at > now())`;
const expiresAt = (param: (name: 'expiresIn') => unknown) => sql<Date | null>`now() + make_interval(secs => ${param('expiresIn')}::float8)`;

export type FindColumn = 'key' | 'uid_key' | 'user_code_key';

/** One live row of one model, by one of its lookup columns. */
export const findBy = Object.fromEntries(
  (['key', 'uid_key', 'user_code_key'] as const).map((column) => [
    column,
    new Statement(['model', 'value'] as const, (db, p) =>
      db
        .selectFrom('oidc_payloads')
        .select(['payload', 'consumed_at', 'expires_at', 'grant_key'])
        .where('model', '=', p('model') as string)
        .where(column, '=', p('value') as string)
        .where(live),
    ),
  ]),
) as Record<FindColumn, Statement<'model' | 'value'>>;

/** The live rows of any of these models under any of these keys (a batch of lookups by key). */
export const findMany = new Statement(['models', 'keys'] as const, (db, p) =>
  db
    .selectFrom('oidc_payloads')
    .select(['model', 'key', 'payload', 'consumed_at', 'expires_at', 'grant_key'])
    .where(sql<boolean>`model = any(${p('models')}::text[])`)
    .where(sql<boolean>`key = any(${p('keys')}::text[])`)
    .where(live),
);

const UPSERT_PARAMS = ['model', 'key', 'payload', 'grant_key', 'uid_key', 'user_code_key', 'expiresIn'] as const;

function upsertStatement(keepSealedJti: boolean) {
  return new Statement(UPSERT_PARAMS, (db, p) =>
    db
      .insertInto('oidc_payloads')
      .values({
        model: p('model') as string,
        key: p('key') as string,
        payload: p('payload') as string,
        grant_key: p('grant_key') as string,
        uid_key: p('uid_key') as string,
        user_code_key: p('user_code_key') as string,
        expires_at: expiresAt(p),
      })
      .onConflict((oc) =>
        oc.columns(['model', 'key']).doUpdateSet((eb) => ({
          payload: keepSealedJti
            ? // A device code saved again without its user code keeps the sealed id it had.
              sql`excluded.payload || jsonb_strip_nulls(jsonb_build_object('sealedJti', oidc_payloads.payload -> 'sealedJti'))`
            : eb.ref('excluded.payload'),
          grant_key: eb.ref('excluded.grant_key'),
          uid_key: eb.ref('excluded.uid_key'),
          user_code_key: sql`coalesce(excluded.user_code_key, oidc_payloads.user_code_key)`,
          expires_at: eb.ref('excluded.expires_at'),
        })),
      ),
  );
}

/**
 * Insert or replace several rows in one statement (one array per column); for saves that carry
 * no user code, like upsert.keepSealedJti.
 */
export const upsertMany = new Statement(['models', 'keys', 'payloads', 'grant_keys', 'uid_keys', 'expiresIns'] as const, (db, p) => ({
  compile: () =>
    sql`insert into oidc_payloads (model, key, payload, grant_key, uid_key, expires_at)
      select model, key, payload, grant_key, uid_key, now() + make_interval(secs => expires_in)
      from unnest(${p('models')}::text[], ${p('keys')}::text[], ${p('payloads')}::jsonb[], ${p('grant_keys')}::text[],
                  ${p('uid_keys')}::text[], ${p('expiresIns')}::float8[]) as r(model, key, payload, grant_key, uid_key, expires_in)
      on conflict (model, key) do update set
        payload = excluded.payload || jsonb_strip_nulls(jsonb_build_object('sealedJti', oidc_payloads.payload -> 'sealedJti')),
        grant_key = excluded.grant_key,
        uid_key = excluded.uid_key,
        expires_at = excluded.expires_at`.compile(db),
}));

/** Insert or replace; `keepSealedJti` for saves that carry no user code. */
export const upsert = { withUserCode: upsertStatement(false), keepSealedJti: upsertStatement(true) };

export const consume = new Statement(['model', 'key'] as const, (db, p) =>
  db
    .updateTable('oidc_payloads')
    .set({ consumed_at: sql<Date>`now()` })
    .where('model', '=', p('model') as string)
    .where('key', '=', p('key') as string),
);

export const destroy = new Statement(['model', 'key'] as const, (db, p) =>
  db
    .deleteFrom('oidc_payloads')
    .where('model', '=', p('model') as string)
    .where('key', '=', p('key') as string),
);

export const revokeByGrant = new Statement(['model', 'grant_key'] as const, (db, p) =>
  db
    .deleteFrom('oidc_payloads')
    .where('grant_key', '=', p('grant_key') as string)
    .where('model', '=', p('model') as string),
);
