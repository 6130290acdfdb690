import t from 'tap';
import { backfillUsernameKeys, canonicalUsername, validUsername } from '../src/accounts/username.js';
import { startServer } from './helpers/server.js';

/** One canonical form per username: look-alikes are the same name, and every name that signs up signs in. */

t.test('the canonical form', async (t) => {
  t.equal(canonicalUsername('Alice'), 'alice');
  t.equal(canonicalUsername('ａｌｉｃｅ'), 'alice', 'fullwidth letters');
  t.equal(canonicalUsername('ﬁona'), 'fiona', 'a ligature');
  t.equal(canonicalUsername('Jose\u0301'), canonicalUsername('José'), 'decomposed and composed accents');
  t.equal(canonicalUsername('Straße'), canonicalUsername('STRASSE'), 'ß is ss');
  t.equal(canonicalUsername('ΟΔΥΣΣΕΥΣ'), canonicalUsername('οδυσσευς'), 'final sigma');
  t.equal(canonicalUsername('İnci'), canonicalUsername('İNCI'), 'a dotted capital I stays dotted, in either case');
  t.equal(canonicalUsername('  bob '), 'bob', 'trimmed');
});

t.test('what a username may not be', async (t) => {
  t.throws(() => validUsername('ali\u00a0ce'), /spaces/, 'a no-break space');
  t.throws(() => validUsername('ali ce'), /spaces/, 'a space');
  t.throws(() => validUsername('ali\u200bce'), /control characters/, 'a zero-width space (format)');
  t.throws(() => validUsername('аlice'), /must not mix/, 'a Cyrillic а among Latin letters');
  t.throws(() => validUsername('pαypal'), /must not mix/, 'a Greek α among Latin letters');
  t.equal(validUsername('иван'), 'иван', 'Cyrillic alone is a name');
  t.equal(validUsername('Jose\u0301'), 'José', 'shown in NFC');
});

t.test('sign-up and sign-in agree, and look-alikes are taken', async (t) => {
  const { app } = await startServer(t);
  const password = 'a password long enough';
  for (const name of ['İnci', 'Straße', 'ΟΔΥΣΣΕΥΣ', 'Zoë']) {
    const created = await app.accounts.create(name, password);
    t.equal((await app.accounts.verify(name, password))?.id, created.id, `${name} signs in as it signed up`);
    t.equal((await app.accounts.verify(name.toUpperCase(), password))?.id, created.id, `${name} in capitals too`);
  }
  await app.accounts.create('alice', password);
  for (const lookAlike of ['ａｌｉｃｅ', 'ALICE', 'Alice']) {
    await t.rejects(app.accounts.create(lookAlike, password), /taken/, `${lookAlike} is alice`);
  }
  await t.rejects(app.accounts.create('Zoe\u0308', password), /taken/, 'Zoë decomposed is Zoë');
});

t.test('accounts made before canonical keys get theirs, the older keeping a clashing name', async (t) => {
  const { app } = await startServer(t);
  const hash = '$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const older = await app.db
    .insertInto('accounts')
    .values({ username: 'Carol', username_key: null, password_hash: hash })
    .returning('id')
    .executeTakeFirstOrThrow();
  const newer = await app.db
    .insertInto('accounts')
    .values({ username: 'ｃａｒｏｌ', username_key: null, password_hash: hash })
    .returning('id')
    .executeTakeFirstOrThrow();
  t.same(await backfillUsernameKeys(app.db), ['ｃａｒｏｌ'], 'the clash is reported');
  const keys = await app.db
    .selectFrom('accounts')
    .select(['id', 'username_key'])
    .where('id', 'in', [older.id, newer.id])
    .orderBy('id')
    .execute();
  t.same(
    keys.map((k) => k.username_key),
    ['carol', `carol#${newer.id}`],
  );
  t.same(await backfillUsernameKeys(app.db), [], 'once done, nothing is left to do');
});
