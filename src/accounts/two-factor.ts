import { randomBytes, randomInt } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';
import { sha256 } from '../crypto/hash.js';
import { seal, unseal } from '../crypto/seal.js';

/** RFC 6238 as every authenticator app reads it: SHA-1, 6 digits, 30-second steps. */
const PERIOD = 30;
const DIGITS = 6;
/** One step either side: a phone's clock a little off, or a code typed as it changed. */
const WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;
/** 16 base32 characters, 80 random bits: even a copy of the table's hashes cannot be searched for them. */
const RECOVERY_LENGTH = 16;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** A sign-in waiting for its second factor lasts this long. */
export const PENDING_SECONDS = 5 * 60;
const ID_FORMAT = /^[A-Za-z0-9_-]{43}$/;

const totpOf = (secret: string, label = '') =>
  new TOTP({ issuer: 'Latchkey', label, algorithm: 'SHA1', digits: DIGITS, period: PERIOD, secret: Secret.fromBase32(secret) });

/** What a person types: spaces and dashes are only for reading. */
const normalize = (code: string) => code.replace(/[\s-]/g, '').toUpperCase();

export interface TotpSetup {
  secret: string;
  uri: string;
}

export interface PendingSignIn {
  accountId: number;
  interactionUid: string | null;
}

/** A recovery code as shown: four groups of four. */
function recoveryCode(): string {
  const chars = Array.from({ length: RECOVERY_LENGTH }, () => BASE32[randomInt(BASE32.length)]!).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** Whether the account signs in with a second factor (the password grant and the CLI need no key to ask). */
export async function twoFactorOn(db: Kysely<Schema>, accountId: number): Promise<boolean> {
  const row = await guarded(() =>
    db
      .selectFrom('totp_credentials')
      .select('account_id')
      .where('account_id', '=', accountId)
      .where('enabled_at', 'is not', null)
      .executeTakeFirst(),
  );
  return row !== undefined;
}

/** Removes the authenticator app and the recovery codes; false when two-factor was not on (nor being set up). */
export async function removeTwoFactor(db: Kysely<Schema>, accountId: number): Promise<boolean> {
  return guarded(() =>
    db.transaction().execute(async (trx) => {
      await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
      await trx.deleteFrom('pending_sign_ins').where('account_id', '=', accountId).execute();
      const result = await trx.deleteFrom('totp_credentials').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    }),
  );
}

/**
 * An account's authenticator app (TOTP) and recovery codes, and the sign-ins that wait for one of
 * them. The secret is sealed under the cookie keys (tried newest first, so a rotation keeps old
 * setups working) and the account id, so a row copied onto another account opens nowhere.
 */
export class TwoFactorStore {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly sealKeys: readonly string[],
  ) {}

  private sealFor(accountId: number, secret: string): string {
    return seal(`totp:${accountId}:${this.sealKeys[0]}`, secret);
  }

  private unsealFor(accountId: number, sealed: string): string | undefined {
    for (const key of this.sealKeys) {
      const secret = unseal(`totp:${accountId}:${key}`, sealed);
      if (secret !== undefined) return secret;
    }
    return undefined;
  }

  isOn(accountId: number): Promise<boolean> {
    return twoFactorOn(this.db, accountId);
  }

  /** A new secret waiting for Turn on (replacing an earlier one not turned on); undefined when two-factor is already on. */
  async startSetup(accountId: number, username: string): Promise<TotpSetup | undefined> {
    const secret = new Secret({ size: 20 }).base32;
    const row = await guarded(() =>
      this.db
        .insertInto('totp_credentials')
        .values({ account_id: accountId, sealed_secret: this.sealFor(accountId, secret) })
        .onConflict((oc) =>
          oc
            .column('account_id')
            .doUpdateSet({ sealed_secret: (eb) => eb.ref('excluded.sealed_secret'), created_at: sql<Date>`now()` })
            .where('totp_credentials.enabled_at', 'is', null),
        )
        .returning('account_id')
        .executeTakeFirst(),
    );
    return row ? { secret, uri: totpOf(secret, username).toString() } : undefined;
  }

  /** The setup waiting for Turn on, if any. */
  async pendingSetup(accountId: number, username: string): Promise<TotpSetup | undefined> {
    const secret = await this.secretOf(accountId, false);
    return secret ? { secret, uri: totpOf(secret, username).toString() } : undefined;
  }

  private async secretOf(accountId: number, enabled: boolean): Promise<string | undefined> {
    const row = await guarded(() =>
      this.db
        .selectFrom('totp_credentials')
        .select('sealed_secret')
        .where('account_id', '=', accountId)
        .where('enabled_at', enabled ? 'is not' : 'is', null)
        .executeTakeFirst(),
    );
    return row ? this.unsealFor(accountId, row.sealed_secret) : undefined;
  }

  /** The time step of a right code for this secret, or undefined. */
  private static stepOf(secret: string, code: string): number | undefined {
    const token = normalize(code);
    if (!/^\d{6}$/.test(token)) return undefined;
    const delta = totpOf(secret).validate({ token, window: WINDOW });
    if (delta === null) return undefined;
    return Math.floor(Date.now() / 1000 / PERIOD) + delta;
  }

  /**
   * Turns two-factor on if the code is right for the pending secret: returns the recovery codes
   * (shown once, stored hashed), or undefined for a wrong code or no pending setup.
   */
  async turnOn(accountId: number, code: string): Promise<string[] | undefined> {
    const secret = await this.secretOf(accountId, false);
    const step = secret ? TwoFactorStore.stepOf(secret, code) : undefined;
    if (step === undefined) return undefined;
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, recoveryCode);
    const turnedOn = await guarded(() =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('totp_credentials')
          .set({ enabled_at: sql<Date>`now()`, last_used_step: step })
          .where('account_id', '=', accountId)
          .where('enabled_at', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await trx.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
        await trx
          .insertInto('recovery_codes')
          .values(codes.map((c) => ({ account_id: accountId, code_hash: sha256(normalize(c)) })))
          .execute();
        return true;
      }),
    );
    return turnedOn ? codes : undefined;
  }

  /**
   * Checks a second factor: a code of the app (its step must be after the last one used, written
   * in the same statement that accepts it, so a code is accepted once across every process) or an
   * unused recovery code (then used). Returns how it was checked, or undefined when wrong.
   */
  async check(accountId: number, code: string): Promise<'otp' | 'recovery_code' | undefined> {
    const token = normalize(code);
    if (/^\d{6}$/.test(token)) {
      const secret = await this.secretOf(accountId, true);
      const step = secret ? TwoFactorStore.stepOf(secret, token) : undefined;
      if (step === undefined) return undefined;
      const result = await guarded(() =>
        this.db
          .updateTable('totp_credentials')
          .set({ last_used_step: step })
          .where('account_id', '=', accountId)
          .where('enabled_at', 'is not', null)
          .where('last_used_step', '<', String(step))
          .executeTakeFirst(),
      );
      return Number(result.numUpdatedRows) === 1 ? 'otp' : undefined;
    }
    if (!/^[A-Z2-7]{16}$/.test(token)) return undefined;
    const result = await guarded(() =>
      this.db
        .updateTable('recovery_codes')
        .set({ used_at: sql<Date>`now()` })
        .where('account_id', '=', accountId)
        .where('code_hash', '=', sha256(token))
        .where('used_at', 'is', null)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) === 1 ? 'recovery_code' : undefined;
  }

  /** How many recovery codes are left unused. */
  async recoveryCodesLeft(accountId: number): Promise<number> {
    const row = await guarded(() =>
      this.db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('account_id', '=', accountId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow(),
    );
    return Number(row.n);
  }

  remove(accountId: number): Promise<boolean> {
    return removeTwoFactor(this.db, accountId);
  }

  /** A sign-in whose password was right, waiting for the second factor; returns the id for the cookie. */
  async startPending(accountId: number, interactionUid: string | null): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await guarded(() =>
      this.db
        .insertInto('pending_sign_ins')
        .values({
          id_hash: sha256(id),
          account_id: accountId,
          interaction_uid: interactionUid,
          expires_at: sql<Date>`now() + ${PENDING_SECONDS} * interval '1 second'`,
        })
        .execute(),
    );
    return id;
  }

  /** The pending sign-in of this id, while it lasts. */
  async findPending(id: string | undefined): Promise<PendingSignIn | undefined> {
    if (!id || !ID_FORMAT.test(id)) return undefined;
    const row = await guarded(() =>
      this.db
        .selectFrom('pending_sign_ins')
        .select(['account_id', 'interaction_uid'])
        .where('id_hash', '=', sha256(id))
        .where('expires_at', '>', sql<Date>`now()`)
        .executeTakeFirst(),
    );
    return row && { accountId: row.account_id, interactionUid: row.interaction_uid };
  }

  /** Uses up the pending sign-in: true for the one request that does. */
  async endPending(id: string): Promise<boolean> {
    const result = await guarded(() =>
      this.db
        .deleteFrom('pending_sign_ins')
        .where('id_hash', '=', sha256(id))
        .where('expires_at', '>', sql<Date>`now()`)
        .executeTakeFirst(),
    );
    return Number(result.numDeletedRows) === 1;
  }

  async purge(): Promise<number> {
    const result = await guarded(() =>
      this.db
        .deleteFrom('pending_sign_ins')
        .where('expires_at', '<=', sql<Date>`now()`)
        .executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }
}
