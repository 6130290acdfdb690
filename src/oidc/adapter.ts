import { sql, type Kysely } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';
import { sha256 } from './hash.js';
import { seal, unseal } from './seal.js';

/** Client secrets are stored as this prefix + SHA-256 of the secret, never in clear. */
export const HASHED_SECRET_PREFIX = 'sha256:';

export function hashClientSecret(secret: string): string {
  return secret.startsWith(HASHED_SECRET_PREFIX) ? secret : HASHED_SECRET_PREFIX + sha256(secret);
}

type Row = { payload: Record<string, unknown>; consumed_at: Date | null };

/**
 * Every oidc-provider model in the one table oidc_payloads. Lookup columns hold SHA-256 of
 * the ids, and the ids are stripped from the stored payload, so the table holds no usable
 * token, code or session id. A device code's id, which the provider must get back from its
 * user code, is sealed under a key derived from that user code.
 */
export class KyselyAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly db: Kysely<Schema>,
  ) {}

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
    const row = {
      model: this.model,
      key: sha256(id),
      payload: JSON.stringify(stored),
      grant_key: typeof payload.grantId === 'string' ? sha256(payload.grantId) : null,
      uid_key: typeof payload.uid === 'string' ? sha256(payload.uid) : null,
      user_code_key: userCodeKey,
    };
    const expiresAt = expiresIn ? sql<Date>`now() + ${expiresIn} * interval '1 second'` : null;
    await guarded(() =>
      this.db
        .insertInto('oidc_payloads')
        .values({ ...row, expires_at: expiresAt })
        .onConflict((oc) =>
          oc.columns(['model', 'key']).doUpdateSet((eb) => ({
            payload: userCodeKey
              ? eb.ref('excluded.payload')
              : // A device code saved again without its user code keeps the sealed id it had.
                sql`excluded.payload || jsonb_strip_nulls(jsonb_build_object('sealedJti', oidc_payloads.payload -> 'sealedJti'))`,
            grant_key: eb.ref('excluded.grant_key'),
            uid_key: eb.ref('excluded.uid_key'),
            user_code_key: sql`coalesce(excluded.user_code_key, oidc_payloads.user_code_key)`,
            expires_at: eb.ref('excluded.expires_at'),
          })),
        )
        .execute(),
    );
  }

  private async findWhere(column: 'key' | 'uid_key' | 'user_code_key', value: string): Promise<Row | undefined> {
    return guarded(() =>
      this.db
        .selectFrom('oidc_payloads')
        .select(['payload', 'consumed_at'])
        .where('model', '=', this.model)
        .where(column, '=', sha256(value))
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
        .executeTakeFirst(),
    );
  }

  private restore(row: Row, jti: string | undefined): AdapterPayload {
    const payload: Record<string, unknown> = { ...row.payload };
    delete payload.sealedJti;
    if (jti !== undefined && this.model !== 'Client') payload.jti = jti;
    if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
    return payload as AdapterPayload;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const row = await this.findWhere('key', id);
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
    await guarded(() =>
      this.db
        .updateTable('oidc_payloads')
        .set({ consumed_at: sql<Date>`now()` })
        .where('model', '=', this.model)
        .where('key', '=', sha256(id))
        .execute(),
    );
  }

  async destroy(id: string): Promise<void> {
    await guarded(() =>
      this.db.deleteFrom('oidc_payloads').where('model', '=', this.model).where('key', '=', sha256(id)).execute(),
    );
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await guarded(() =>
      this.db
        .deleteFrom('oidc_payloads')
        .where('grant_key', '=', sha256(grantId))
        .where('model', '=', this.model)
        .execute(),
    );
  }
}
