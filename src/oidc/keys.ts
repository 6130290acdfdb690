import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';

export const SIGNING_ALGORITHMS = ['RS256', 'ES256'] as const;
const KEYS_LOCK = 7_248_102;
const COOKIE_KEYS_KEPT = 3;

export interface KeyMaterial {
  /** Private JWKs, newest first: the provider signs with the first key of an algorithm. */
  jwks: { keys: JWK[] };
  /** Newest first: cookies are signed with the first and verified with any. */
  cookieKeys: string[];
}

async function newSigningKey(alg: (typeof SIGNING_ALGORITHMS)[number]) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  return { kid, alg, private_jwk: JSON.stringify({ ...jwk, kid, alg, use: 'sig' }) };
}

function newCookieKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Creates whatever key is missing (first start); safe when several processes start at once. */
export async function ensureKeys(db: Kysely<Schema>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${KEYS_LOCK})`.execute(trx);
    const current = await trx.selectFrom('signing_keys').select('alg').where('retire_at', 'is', null).execute();
    for (const alg of SIGNING_ALGORITHMS) {
      if (!current.some((k) => k.alg === alg)) {
        await trx
          .insertInto('signing_keys')
          .values(await newSigningKey(alg))
          .execute();
      }
    }
    const cookie = await trx.selectFrom('cookie_keys').select('id').limit(1).executeTakeFirst();
    if (!cookie) await trx.insertInto('cookie_keys').values({ secret: newCookieKey() }).execute();
  });
}

export async function loadKeys(db: Kysely<Schema>): Promise<KeyMaterial> {
  const signing = await db
    .selectFrom('signing_keys')
    .select(['private_jwk'])
    .where((eb) => eb.or([eb('retire_at', 'is', null), eb('retire_at', '>', sql<Date>`now()`)]))
    .orderBy(sql`retire_at is null`, 'desc')
    .orderBy('created_at', 'desc')
    .execute();
  const cookies = await db.selectFrom('cookie_keys').select('secret').orderBy('id', 'desc').execute();
  return { jwks: { keys: signing.map((k) => k.private_jwk as JWK) }, cookieKeys: cookies.map((c) => c.secret) };
}

/**
 * Makes a new current key for each algorithm. The previous keys stay published (for
 * verification only) until every token they signed has expired: `keepOldFor` seconds.
 */
export async function rotateKeys(db: Kysely<Schema>, keepOldFor: number): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${KEYS_LOCK})`.execute(trx);
    await trx
      .updateTable('signing_keys')
      .set({ retire_at: sql<Date>`now() + ${keepOldFor} * interval '1 second'` })
      .where('retire_at', 'is', null)
      .execute();
    const kids: string[] = [];
    for (const alg of SIGNING_ALGORITHMS) {
      const key = await newSigningKey(alg);
      await trx.insertInto('signing_keys').values(key).execute();
      kids.push(key.kid);
    }
    await trx.insertInto('cookie_keys').values({ secret: newCookieKey() }).execute();
    const keep = await trx.selectFrom('cookie_keys').select('id').orderBy('id', 'desc').limit(COOKIE_KEYS_KEPT).execute();
    await trx
      .deleteFrom('cookie_keys')
      .where(
        'id',
        'not in',
        keep.map((k) => k.id),
      )
      .execute();
    await trx
      .deleteFrom('signing_keys')
      .where('retire_at', '<', sql<Date>`now()`)
      .execute();
    return kids;
  });
}
