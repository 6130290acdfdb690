import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';
import { sha256 } from '../crypto/hash.js';

/** A console session ends 12 hours after sign-in, or after 2 hours without a page seen. */
export const CONSOLE_SESSION_SECONDS = 12 * 3600;
export const CONSOLE_IDLE_SECONDS = 2 * 3600;
/** last_seen_at is written at most this often per session (a page view is not a write each time). */
const TOUCH_EVERY_SECONDS = 60;
const ID_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export interface ConsoleSession {
  accountId: number;
  /** When the person signed in (seconds since the epoch): the auth_time of a "Continue as". */
  signedInAt: number;
  lastSeenAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
}

/** A session as its account's sessions list shows it: `idHash` names it there (only a hash, never the cookie's id). */
export interface ListedSession extends ConsoleSession {
  idHash: string;
}

/** The hash a session is stored (and listed) under. */
export const sessionHash = (id: string) => sha256(id);

export interface SessionOrigin {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * Console sessions kept in the database (table console_sessions), referenced from the browser by a
 * random 256-bit id of which only the SHA-256 is stored: ending one takes effect on every instance.
 */
export class ConsoleSessions {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Starts a session; returns the id for the cookie (shown nowhere else, stored only hashed). */
  async start(accountId: number, origin: SessionOrigin = {}): Promise<{ id: string; session: ConsoleSession }> {
    const id = randomBytes(32).toString('base64url');
    const row = await guarded(() =>
      this.db
        .insertInto('console_sessions')
        .values({
          id_hash: sha256(id),
          account_id: accountId,
          expires_at: sql<Date>`now() + ${CONSOLE_SESSION_SECONDS} * interval '1 second'`,
          ip: origin.ip?.slice(0, 64) ?? null,
          user_agent: origin.userAgent?.slice(0, 256) ?? null,
        })
        .returning(['account_id', 'signed_in_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent'])
        .executeTakeFirstOrThrow(),
    );
    return { id, session: toSession(row) };
  }

  /** The live session of this id (not expired, not idle too long), seen now; undefined otherwise. */
  async find(id: string): Promise<ConsoleSession | undefined> {
    if (!ID_FORMAT.test(id)) return undefined;
    const row = await guarded(() =>
      this.db
        .selectFrom('console_sessions')
        .select(['account_id', 'signed_in_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent'])
        .where('id_hash', '=', sha256(id))
        .where('expires_at', '>', sql<Date>`now()`)
        .where('last_seen_at', '>', sql<Date>`now() - ${CONSOLE_IDLE_SECONDS} * interval '1 second'`)
        .executeTakeFirst(),
    );
    if (!row) return undefined;
    if (Date.now() / 1000 - seconds(row.last_seen_at) > TOUCH_EVERY_SECONDS) {
      await guarded(() =>
        this.db
          .updateTable('console_sessions')
          .set({ last_seen_at: sql<Date>`now()` })
          .where('id_hash', '=', sha256(id))
          .execute(),
      );
    }
    return toSession(row);
  }

  /** Ends one session (sign out). */
  async end(id: string): Promise<void> {
    if (!ID_FORMAT.test(id)) return;
    await guarded(() => this.db.deleteFrom('console_sessions').where('id_hash', '=', sha256(id)).execute());
  }

  /** The account's live sessions, the most recently seen first; each named by its stored hash (no credential). */
  async listOf(accountId: number): Promise<ListedSession[]> {
    const rows = await guarded(() =>
      this.db
        .selectFrom('console_sessions')
        .select(['id_hash', 'account_id', 'signed_in_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent'])
        .where('account_id', '=', accountId)
        .where('expires_at', '>', sql<Date>`now()`)
        .where('last_seen_at', '>', sql<Date>`now() - ${CONSOLE_IDLE_SECONDS} * interval '1 second'`)
        .orderBy('last_seen_at', 'desc')
        .orderBy('signed_in_at', 'desc')
        .execute(),
    );
    return rows.map((row) => ({ ...toSession(row), idHash: row.id_hash }));
  }

  /** Ends the account's session stored under this hash (a Sign out of the sessions list); false when it has none such. */
  async endByHash(accountId: number, idHash: string): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(idHash)) return false;
    const result = await guarded(() =>
      this.db.deleteFrom('console_sessions').where('account_id', '=', accountId).where('id_hash', '=', idHash).executeTakeFirst(),
    );
    return Number(result.numDeletedRows) > 0;
  }

  /** Ends every session of the account, but the one of id `except` when given; returns how many ended. */
  async endAllOf(accountId: number, except?: string): Promise<number> {
    const result = await guarded(() => {
      let query = this.db.deleteFrom('console_sessions').where('account_id', '=', accountId);
      if (except !== undefined) query = query.where('id_hash', '!=', sha256(except));
      return query.executeTakeFirst();
    });
    return Number(result.numDeletedRows);
  }

  /** Deletes the sessions that have ended by time (absolute or idle); returns how many. */
  async purge(): Promise<number> {
    const result = await guarded(() =>
      this.db
        .deleteFrom('console_sessions')
        .where((eb) =>
          eb.or([
            eb('expires_at', '<=', sql<Date>`now()`),
            eb('last_seen_at', '<=', sql<Date>`now() - ${CONSOLE_IDLE_SECONDS} * interval '1 second'`),
          ]),
        )
        .executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }
}

type SessionRow = {
  account_id: number;
  signed_in_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  ip: string | null;
  user_agent: string | null;
};

function toSession(row: SessionRow): ConsoleSession {
  return {
    accountId: row.account_id,
    signedInAt: seconds(row.signed_in_at),
    lastSeenAt: seconds(row.last_seen_at),
    expiresAt: seconds(row.expires_at),
    ip: row.ip,
    userAgent: row.user_agent,
  };
}
