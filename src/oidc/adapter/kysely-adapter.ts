import type { CompiledQuery, Kysely } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { cachedRead, cachedValue, forgetGrantRows, forgetRow, slotOf } from '../../db/cache/row-cache.js';
import type { Schema } from '../../db/schema.js';
import { guarded } from '../../db/unavailable.js';
import { batchesFor, type Save, type StoredRow } from './batches.js';
import * as statements from './queries.js';
import { sha256 } from '../../crypto/hash.js';
import { seal, unseal } from '../../crypto/seal.js';

/** Client secrets are stored as this prefix + SHA-256 of the secret, never in clear. */
export const HASHED_SECRET_PREFIX = 'sha256:';

export function hashClientSecret(secret: string): string {
  return secret.startsWith(HASHED_SECRET_PREFIX) ? secret : HASHED_SECRET_PREFIX + sha256(secret);
}

/** A row as the cache keeps it. */
interface Found {
  payload: AdapterPayload;
  expires_at: Date | null;
  grant_key: string | null;
}

/**
 * The models kept in the row cache: read on most requests, changed rarely. Codes, refresh
 * tokens and sessions are single-use or change on every use. Access tokens are read afresh on
 * every use too, so that a request presenting one always meets the database (revocation is
 * seen at once, and an unreachable database answers 503). The database announces
 * changes to exactly these (migration 0005).
 */
const CACHED_MODELS = new Set(['Client', 'Grant']);

/**
 * The payload fields, per model, that can hold a usable value: another row's id, a cookie's
 * value, a form's secret, or a request's parameters (an id_token_hint, a request object).
 * They are stored sealed together (`sealed`) under a key derived from the row's own id, which
 * the table does not hold (only its SHA-256), and opened again by `find`, which is given it.
 * - Interaction: `session.cookie` is the id of the browser's session (the `_session` cookie),
 *   `returnTo` holds the interaction's own id (the `_interaction` cookie), `deviceCode` a device
 *   code's id, `parJti` a pushed request's id; `params`, `result` and `lastSubmission` are what
 *   the request and the login carried.
 * - Session: `state` holds the secret of a pending logout or device confirmation form.
 * - PushedAuthorizationRequest: `request` is the request object, signed or not.
 * - BackchannelAuthenticationRequest: `params` may carry tokens (id_token_hint, login_hint_token).
 * Every other model holds only hashes, identifiers and metadata besides its (stripped) id, and
 * pays nothing for this.
 */
const SEALED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Interaction: ['session', 'params', 'returnTo', 'deviceCode', 'parJti', 'result', 'lastSubmission'],
  Session: ['state'],
  PushedAuthorizationRequest: ['request'],
  BackchannelAuthenticationRequest: ['params'],
};

/**
 * Every oidc-provider model in the one table oidc_payloads. Lookup columns hold SHA-256 of
 * the ids, and the ids are stripped from the stored payload, so the table holds no usable
 * token, code or session id. A device code's id, which the provider must get back from its
 * user code, is sealed under a key derived from that user code; the fields of SEALED_FIELDS,
 * under a key derived from the row's own id.
 *
 * Speed: statements are compiled once (queries.ts) and run as prepared statements;
 * lookups by id and saves are gathered per event-loop turn into one query each, so concurrent
 * requests share round trips and commits (batches.ts); clients and grants are served
 * from memory while the database's change feed keeps that exact (db/cache/row-cache.ts).
 */
export class KyselyAdapter implements Adapter {
  private readonly cached: boolean;
  private readonly sealedFields: readonly string[] | undefined;

  constructor(
    private readonly model: string,
    private readonly db: Kysely<Schema>,
  ) {
    this.cached = CACHED_MODELS.has(model);
    this.sealedFields = SEALED_FIELDS[model];
  }

  private run<R>(query: CompiledQuery): Promise<R[]> {
    return guarded(async () => (await this.db.executeQuery<R>(query)).rows);
  }

  /** Around every write: no cached copy of the row may outlive it. */
  private async write(key: string, work: () => Promise<unknown>): Promise<void> {
    if (!this.cached) return void (await work());
    const slot = slotOf(this.model, key);
    forgetRow(slot);
    try {
      await work();
    } finally {
      forgetRow(slot);
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
    if (this.sealedFields) sealFields(stored, this.sealedFields, id);
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
    await this.write(key, () =>
      batches
        ? batches.saves.add(save)
        : this.run(
            (userCodeKey ? statements.upsert.withUserCode : statements.upsert.keepSealedJti).bind(this.db, {
              ...save,
              user_code_key: userCodeKey,
            }),
          ),
    );
  }

  private async findWhere(column: statements.FindColumn, value: string): Promise<StoredRow | undefined> {
    const rows = await this.run<StoredRow>(statements.findBy[column].bind(this.db, { model: this.model, value: sha256(value) }));
    return rows[0];
  }

  private findByKey(key: string): Promise<StoredRow | undefined> {
    const batches = batchesFor(this.db);
    if (batches) return batches.reads.get(slotOf(this.model, key));
    return this.run<StoredRow>(statements.findBy.key.bind(this.db, { model: this.model, value: key })).then((rows) => rows[0]);
  }

  /**
   * The payload as the provider saved it, for the id `jti`. Without the id (findByUid) the
   * sealed fields stay out; a row whose sealed fields do not open under the id given is none.
   */
  private restore(row: StoredRow, jti: string | undefined): AdapterPayload | undefined {
    const payload: Record<string, unknown> = { ...row.payload };
    delete payload.sealedJti;
    if (this.sealedFields && payload.sealed !== undefined) {
      const sealed = payload.sealed;
      delete payload.sealed;
      if (jti !== undefined) {
        const opened = typeof sealed === 'string' ? unseal(jti, sealed) : undefined;
        if (opened === undefined) return undefined;
        Object.assign(payload, JSON.parse(opened));
      }
    }
    if (jti !== undefined && this.model !== 'Client') payload.jti = jti;
    if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
    return payload as AdapterPayload;
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.lookup(id, this.model === 'Client');
  }

  /**
   * As find, for callers that never change what they get (the API's token check): a cached
   * row is handed out as it is, not copied.
   */
  findReadOnly(id: string): Promise<Readonly<AdapterPayload> | undefined> {
    return this.lookup(id, true);
  }

  /**
   * What the row cache holds for `id`, at once and read-only; undefined when it holds nothing
   * (not cached yet, not a cached model, or the cache is not in use): then find it.
   */
  peekReadOnly(id: string): Readonly<AdapterPayload> | undefined {
    return this.cached ? cachedValue<Found>(this.db, slotOf(this.model, sha256(id)))?.payload : undefined;
  }

  // Promise chains rather than nested async functions: fewer promises on the hottest path.
  private lookup(id: string, shared: boolean): Promise<AdapterPayload | undefined> {
    const key = sha256(id);
    const read = () =>
      this.findByKey(key).then((row): Found | undefined => {
        const payload = row && this.restore(row, id);
        return payload && { payload, expires_at: row.expires_at, grant_key: row.grant_key };
      });
    if (!this.cached) return read().then((found) => found?.payload);
    // A client's payload is shared: the same object until the row changes, which lets the
    // provider's Client be reused as is (extensions/client-reuse.ts). Grants are copied for the provider,
    // which changes the grants it loads before saving them again.
    return cachedRead(this.db, slotOf(this.model, key), read, {
      describe: (f) => ({ expiresAt: f.expires_at, grantKey: f.grant_key }),
      shared,
    }).then((found) => found?.payload);
  }

  /**
   * The session found this way carries no id, nor what is sealed under it (its `state`): callers
   * only compare its account and grants.
   */
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const row = await this.findWhere('uid_key', uid);
    return row && this.restore(row, undefined);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const row = await this.findWhere('user_code_key', userCode);
    if (!row) return undefined;
    const sealed = row.payload.sealedJti;
    const jti = typeof sealed === 'string' ? unseal(userCode, sealed) : undefined;
    const payload = jti ? this.restore(row, jti) : undefined;
    return payload && { ...payload, userCode };
  }

  async consume(id: string): Promise<void> {
    const key = sha256(id);
    await this.write(key, () => this.run(statements.consume.bind(this.db, { model: this.model, key })));
  }

  async destroy(id: string): Promise<void> {
    const key = sha256(id);
    await this.write(key, () => this.run(statements.destroy.bind(this.db, { model: this.model, key })));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = sha256(grantId);
    if (this.cached) forgetGrantRows(grantKey);
    try {
      await this.run(statements.revokeByGrant.bind(this.db, { model: this.model, grant_key: grantKey }));
    } finally {
      if (this.cached) forgetGrantRows(grantKey);
    }
  }
}

/** Moves the `fields` present in `stored` into one value sealed under the row's id. */
function sealFields(stored: Record<string, unknown>, fields: readonly string[], id: string): void {
  let secret: Record<string, unknown> | undefined;
  for (const field of fields) {
    if (stored[field] === undefined) continue;
    (secret ??= {})[field] = stored[field];
    delete stored[field];
  }
  if (secret) stored.sealed = seal(id, JSON.stringify(secret));
}
