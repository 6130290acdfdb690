import { sql, type Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';

export const USERNAME_MAX = 64;

export class AccountError extends Error {}

const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const WHITESPACE = /[\s\p{Z}]/u;
/** Scripts whose letters look alike: a name may use one of them, not several. */
const LOOK_ALIKE_SCRIPTS = [/\p{Script=Latin}/u, /\p{Script=Greek}/u, /\p{Script=Cyrillic}/u];

/**
 * The one canonical form of a username, which is what is unique and what sign-in looks up:
 * compatibility-normalised (NFKC: fullwidth letters, ligatures and composed accents become the
 * plain ones), then case-folded (upper then lower case, with no locale: ß and ss, ς and σ,
 * İ and i̇ each meet), then normalised again.
 */
export function canonicalUsername(raw: string): string {
  return raw.trim().normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

/**
 * Returns the username as it is shown (trimmed, NFC), or throws AccountError with a message fit
 * for a form: no control, format or whitespace characters, and letters of one of the
 * look-alike scripts only (Latin, Greek, Cyrillic), so that a look-alike is never a second name.
 */
export function validUsername(raw: string): string {
  const username = raw.trim().normalize('NFC');
  if (!username) throw new AccountError('Username is required.');
  if ([...username].length > USERNAME_MAX) throw new AccountError(`Username must be at most ${USERNAME_MAX} characters.`);
  if (CONTROL.test(username)) throw new AccountError('Username must not contain control characters.');
  if (WHITESPACE.test(username)) throw new AccountError('Username must not contain spaces.');
  const canonical = canonicalUsername(username);
  if (LOOK_ALIKE_SCRIPTS.filter((script) => script.test(canonical)).length > 1) {
    throw new AccountError('Username must not mix Latin, Greek and Cyrillic letters.');
  }
  return username;
}

/**
 * Gives accounts made before canonical keys existed their key (once: afterwards none is
 * missing). Of two old accounts whose names now meet, the older keeps the name; the other's key
 * gets its id appended, and it is returned so that an operator can rename it.
 */
export async function backfillUsernameKeys(db: Kysely<Schema>): Promise<string[]> {
  const rows = await guarded(() =>
    db.selectFrom('accounts').select(['id', 'username']).where('username_key', 'is', null).orderBy('id').execute(),
  );
  const clashing: string[] = [];
  for (const row of rows) {
    const key = canonicalUsername(row.username);
    const taken = await db.selectFrom('accounts').select('id').where('username_key', '=', key).executeTakeFirst();
    if (taken) clashing.push(row.username);
    await guarded(() =>
      db
        .updateTable('accounts')
        .set({ username_key: taken ? sql<string>`${key} || '#' || ${row.id}` : key })
        .where('id', '=', row.id)
        .execute(),
    );
  }
  return clashing;
}
