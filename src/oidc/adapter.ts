import type { CompiledQuery, Kysely } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { clientCacheFor, forgetClientKey, type CachedRow } from '../db/client-cache.js';
import type { Schema } from '../db/schema.js';
import { ReadBatcher, WriteBatcher } from '../db/batcher.js';
import { DatabaseUnavailableError, guarded } from '../db/unavailable.js';
import * as statements from './adapter-queries.js';
import { sha256 } from './hash.js';
import { seal, unseal } from './seal.js';

/** Client secrets are stored as this prefix + SHA-256 of the secret, never in clear. */
export const HASHED_SECRET_PREFIX = 'sha256:';

export function hashClientSecret(secret: string): string {
  return secret.startsWith(HASHED_SECRET_PREFIX) ? secret : HASHED_SECRET_PREFIX + sha256(secret);
}

type Row = CachedRow;
type KeyedRow = Row & { model: string; key: string };

type Save = {
  model: string;
  key: string;
  payload: string;
  grant_key: string | null;
  uid_key: string | null;
  expiresIn: number | null;
};

/** The lookups by key and the saves of one database, each gathered into one query per event-loop turn. */
interface Batches {
  reads: ReadBatcher<string, Row>;
  saves: WriteBatcher<Save>;
}

const batchesByDatabase = new WeakMap<Kysely<Schema>, Batches>();
const slot = (model: string, key: string) => `${model}\u0000${key}`;

function batchesFor(db: Kysely<Schema>): Batches | undefined {
  if (db.isTransaction) return undefined; // a transaction's statements stay on its own connection, in order
  let batches = batchesByDatabase.get(db);
  if (batches) return batches;
  const run = <R>(query: CompiledQuery) => guarded(async () => (await db.executeQuery<R>(query)).rows);
  const saveOne = (s: Save) => run(statements.upsert.keepSealedJti.bind(db, { ...s, user_code_key: null }));
  const created: Batches = {
    reads: new ReadBatcher<string, Row>(async (slots) => {
      const wanted = slots.map((s) => s.split('\u0000') as [string, string]);
      const rows = await run<KeyedRow>(
        statements.findMany.bind(db, { models: [...new Set(wanted.map(([m]) => m))], keys: [...new Set(wanted.map(([, k]) => k))] }),
      );
      return new Map(rows.map(({ model, key, payload, consumed_at }) => [slot(model, key), { payload, consumed_at }]));
    }),
    saves: new WriteBatcher(
      (s) => slot(s.model, s.key),
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
  batchesByDatabase.set(db, created);
  return created;
}

/**
 * Every oidc-provider model in the one table oidc_payloads. Lookup columns hold SHA-256 of
 * the ids, and the ids are stripped from the stored payload, so the table holds no usable
 * token, code or session id. A device code's id, which the provider must get back from its
 * user code, is sealed under a key derived from that user code.
 *
 * Speed: statements are compiled once (adapter-queries.ts) and run as prepared statements;
 * lookups by id and saves are gathered per event-loop turn into one query each (db/batcher.ts),
 * so concurrent requests share round trips and commits; clients are served from an in-memory
 * cache kept exact by the database's change feed (db/client-cache.ts).
 */
export class KyselyAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly db: Kysely<Schema>,
  ) {}

  private run<R>(query: CompiledQuery): Promise<R[]> {
    return guarded(async () => (await this.db.executeQuery<R>(query)).rows);
  }

  /** Before and after every write of a client: no cached copy may outlive it. */
  private forget(key: string): void {
    if (this.model === 'Client') forgetClientKey(key);
  }

  private async write(key: string, query: CompiledQuery): Promise<void> {
    this.forget(key);
    try {
      await this.run(query);
    } finally {
      this.forget(key);
    }
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const stored: Record<string, unknown> = { ...payload };
    delete stored.jti;
    if (this.model === 'Client' && typeof stored.client_secret === 'string') {
      stored.client_secret = hashClientSecret(stored.client_secret);
    }
    let userCodeKey: string | null = null;
    if (typeof stored.userCode === 'string') {
      userCodeKey = sha256(stored.userCode);
      stored.sealedJti = seal(stored.userCode, id);
      delete stored.userCode;
    }
    const key = sha256(id);
    const save: Save = {
      model: this.model,
      key,
      payload: JSON.stringify(stored),
      grant_key: typeof payload.grantId === 'string' ? sha256(payload.grantId) : null,
      uid_key: typeof payload.uid === 'string' ? sha256(payload.uid) : null,
      expiresIn: expiresIn || null,
    };
    const batches = userCodeKey ? undefined : batchesFor(this.db);
    if (batches) {
      this.forget(key);
      try {
        await batches.saves.add(save);
      } finally {
        this.forget(key);
      }
      return;
    }
    const statement = userCodeKey ? statements.upsert.withUserCode : statements.upsert.keepSealedJti;
    await this.write(key, statement.bind(this.db, { ...save, user_code_key: userCodeKey }));
  }

  private async findWhere(column: statements.FindColumn, value: string): Promise<Row | undefined> {
    const rows = await this.run<Row>(statements.findBy[column].bind(this.db, { model: this.model, value: sha256(value) }));
    return rows[0];
  }

  private findByKey(key: string): Promise<Row | undefined> {
    const batches = batchesFor(this.db);
    if (batches) return batches.reads.get(slot(this.model, key));
    return this.run<Row>(statements.findBy.key.bind(this.db, { model: this.model, value: key })).then((rows) => rows[0]);
  }

  private async findClient(key: string): Promise<Row | undefined> {
    const cache = clientCacheFor(this.db);
    const cached = cache?.get(key);
    if (cached) return cached;
    const readStartedAt = cache?.generation ?? 0;
    const row = await this.findByKey(key);
    if (row && cache) cache.set(key, row, readStartedAt);
    return row;
  }

  private restore(row: Row, jti: string | undefined): AdapterPayload {
    const payload: Record<string, unknown> = { ...row.payload };
    delete payload.sealedJti;
    if (jti !== undefined && this.model !== 'Client') payload.jti = jti;
    if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
    return payload as AdapterPayload;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const key = sha256(id);
    const row = this.model === 'Client' ? await this.findClient(key) : await this.findByKey(key);
    return row && this.restore(row, id);
  }

  /** The session found this way carries no id: callers only compare its account and grants. */
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const row = await this.findWhere('uid_key', uid);
    return row && this.restore(row, undefined);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const row = await this.findWhere('user_code_key', userCode);
    if (!row) return undefined;
    const sealed = row.payload.sealedJti;
    const jti = typeof sealed === 'string' ? unseal(userCode, sealed) : undefined;
    if (!jti) return undefined;
    return { ...this.restore(row, jti), userCode };
  }

  async consume(id: string): Promise<void> {
    const key = sha256(id);
    await this.write(key, statements.consume.bind(this.db, { model: this.model, key }));
  }

  async destroy(id: string): Promise<void> {
    const key = sha256(id);
    await this.write(key, statements.destroy.bind(this.db, { model: this.model, key }));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.run(statements.revokeByGrant.bind(this.db, { model: this.model, grant_key: sha256(grantId) }));
  }
}
