import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { cachedRead, cachedValue, slotOf } from '../db/cache/row-cache.js';
import { guarded } from '../db/unavailable.js';
import { WorkQueue } from '../limits/work-queue.js';
import { burnPasswordCheck, hashPassword, needsRehash, verifyPassword } from './password.js';
import { AccountError, canonicalUsername, USERNAME_MAX, validUsername } from './username.js';

export { AccountError, validUsername };

export interface Account {
  id: number;
  username: string;
  createdAt: Date;
}

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

export function validPassword(password: string): string {
  if ([...password].length < PASSWORD_MIN) throw new AccountError(`Password must be at least ${PASSWORD_MIN} characters.`);
  if (password.length > PASSWORD_MAX) throw new AccountError(`Password must be at most ${PASSWORD_MAX} characters.`);
  return password;
}

/** An account whose password was just checked right, and whether it also needs its second factor. */
export interface VerifiedAccount extends Account {
  secondFactor: boolean;
}

/** An account as operators see it: disabled ones included. */
export interface AccountRecord extends Account {
  disabledAt: Date | null;
}

type AccountRow = { id: number; username: string; created_at: Date; disabled_at: Date | null };
const ACCOUNT_COLUMNS = ['id', 'username', 'created_at', 'disabled_at'] as const;
const toAccount = (row: AccountRow): Account => ({ id: row.id, username: row.username, createdAt: row.created_at });
const toRecord = (row: AccountRow): AccountRecord => ({ ...toAccount(row), disabledAt: row.disabled_at });
/** A disabled account is no account to anything that signs in or accepts a token. */
const live = (row: AccountRow | undefined): Account | undefined => (row && !row.disabled_at ? toAccount(row) : undefined);

/**
 * Password hashes run through one queue per process: as many at once as libuv has threads, a
 * bounded line behind them, and a 503 beyond that (QueueFull) instead of every sign-in waiting.
 */
export function passwordHashing(threads: number): WorkQueue {
  return new WorkQueue(threads, 16 * threads);
}

export class AccountStore {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly hashing: WorkQueue,
  ) {}

  async create(rawUsername: string, password: string): Promise<Account> {
    const username = validUsername(rawUsername);
    validPassword(password);
    const passwordHash = await this.hashing.run(() => hashPassword(password));
    const row = await guarded(() =>
      this.db
        .insertInto('accounts')
        .values({ username, username_key: canonicalUsername(username), password_hash: passwordHash })
        .onConflict((oc) => oc.column('username_key').doNothing())
        .returning([...ACCOUNT_COLUMNS])
        .executeTakeFirst(),
    );
    if (!row) throw new AccountError('That username is taken.');
    return toAccount(row);
  }

  /** The account if the row cache holds it, at once (undefined when disabled); undefined otherwise (then findById). */
  cachedById(id: number): Account | undefined {
    return live(cachedValue<AccountRow>(this.db, slotOf('account', id)));
  }

  /** The account of this id, unless it is disabled: what sessions, tokens and the provider's findAccount see. */
  async findById(id: number): Promise<Account | undefined> {
    return live(await this.rowById(id));
  }

  /** The account of this id, disabled or not (for operators). */
  async recordById(id: number): Promise<AccountRecord | undefined> {
    const row = await this.rowById(id);
    return row && toRecord(row);
  }

  private async rowById(id: number): Promise<AccountRow | undefined> {
    if (!Number.isSafeInteger(id) || id <= 0 || id > 2 ** 31 - 1) return undefined;
    // Read on every token use: served from the row cache, which hears of any change (db/cache/row-cache.ts).
    return cachedRead(
      this.db,
      slotOf('account', id),
      () => guarded(() => this.db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('id', '=', id).executeTakeFirst()),
      { shared: true },
    );
  }

  /** The account of this name, disabled or not (for operators: the command line). */
  async findByUsername(username: string): Promise<AccountRecord | undefined> {
    // No username has a NUL (validUsername refuses control characters), and PostgreSQL refuses it in text.
    if (username.includes('\u0000')) return undefined;
    const row = await guarded(() =>
      this.db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('username_key', '=', canonicalUsername(username)).executeTakeFirst(),
    );
    return row && toRecord(row);
  }

  /** Every account, oldest first (for operators). */
  async list(): Promise<AccountRecord[]> {
    const rows = await guarded(() => this.db.selectFrom('accounts').select(ACCOUNT_COLUMNS).orderBy('id').execute());
    return rows.map(toRecord);
  }

  /** A new password (hashed through the queue, as at sign-up); false when there is no such account. */
  async setPassword(id: number, password: string): Promise<boolean> {
    validPassword(password);
    const passwordHash = await this.hashing.run(() => hashPassword(password));
    const result = await guarded(() =>
      this.db.updateTable('accounts').set({ password_hash: passwordHash }).where('id', '=', id).executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  /** Disables (or enables again) the account; false when there is no such account. */
  async setDisabled(id: number, disabled: boolean): Promise<boolean> {
    const result = await guarded(() =>
      this.db
        .updateTable('accounts')
        .set({ disabled_at: disabled ? sql<Date>`coalesce(disabled_at, now())` : null })
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  /** Deletes the account row (its console sessions and client ownerships go with it, by the foreign keys). */
  async delete(id: number): Promise<boolean> {
    const result = await guarded(() => this.db.deleteFrom('accounts').where('id', '=', id).executeTakeFirst());
    return Number(result.numDeletedRows) > 0;
  }

  /** The account if the password is right; same cost whether or not the username exists. */
  async verify(username: string, password: string): Promise<VerifiedAccount | undefined> {
    if (password.length > PASSWORD_MAX || username.length > 4 * USERNAME_MAX || username.includes('\u0000')) return undefined;
    // Whether an authenticator app is on comes with the account: every caller asks next.
    const row = await guarded(() =>
      this.db
        .selectFrom('accounts')
        .leftJoin('totp_credentials', (join) =>
          join.onRef('totp_credentials.account_id', '=', 'accounts.id').on('totp_credentials.enabled_at', 'is not', null),
        )
        .select([
          'accounts.id',
          'accounts.username',
          'accounts.created_at',
          'accounts.disabled_at',
          'accounts.password_hash',
          'totp_credentials.account_id as totp_account_id',
        ])
        .where('accounts.username_key', '=', canonicalUsername(username))
        .executeTakeFirst(),
    );
    if (!row) {
      await this.hashing.run(() => burnPasswordCheck(password));
      return undefined;
    }
    // A disabled account costs the same check and fails as a wrong password does: it signs in nowhere.
    if (!(await this.hashing.run(() => verifyPassword(password, row.password_hash))) || row.disabled_at) return undefined;
    if (needsRehash(row.password_hash)) await this.rehash(row.id, row.password_hash, password);
    return { ...toAccount(row), secondFactor: row.totp_account_id !== null };
  }

  /** Replaces a hash of an older algorithm or parameters, now that the password is known to be right. */
  private async rehash(id: number, old: string, password: string): Promise<void> {
    const passwordHash = await this.hashing.run(() => hashPassword(password));
    // Only if nobody changed the password meanwhile.
    await guarded(() =>
      this.db.updateTable('accounts').set({ password_hash: passwordHash }).where('id', '=', id).where('password_hash', '=', old).execute(),
    );
  }
}
