import t, { type Test } from 'tap';
import { CredentialLimiter } from '../src/limits/credential-limits.js';
import { passwordGrant, signInForm, type Attempt } from './helpers/password-attempts.js';
import { freshDatabase, onPostgres } from './helpers/database.js';
import { createClient, createUser, uniqueName } from './helpers/fixtures.js';
import type { Json } from './helpers/http.js';
import { spawnServer, withApp } from './helpers/process.js';
import { startServer } from './helpers/server.js';

/**
 * Password guessing: at most 10 failed checks per username in 15 minutes, counted in the
 * database, so together across the sign-in form and the password grant, across IP addresses and
 * across processes; and at most 100 per IP address (password spraying over many usernames).
 */

function limited(t: Test, attempt: Attempt, what: string) {
  t.equal(attempt.status, 429, `${what}: 429`);
  const wait = Number(attempt.retryAfter);
  t.ok(wait >= 1 && wait <= 15 * 60, `${what}: Retry-After ${attempt.retryAfter} seconds`);
}

t.test(
  'one username: form and password grant, alternating between two processes and many IPs',
  { skip: onPostgres ? false : 'needs PostgreSQL (the embedded database admits one process)' },
  async (t) => {
    const fresh = await freshDatabase(t);
    const { user, client } = await withApp(fresh, async (app) => {
      const user = await createUser(app);
      const issued = await createClient(app, { grant_types: ['password'], response_types: [] });
      return { user, client: { clientId: issued.clientId, clientSecret: issued.clientSecret } };
    });
    const env = { TRUST_PROXY: 'true' };
    const [a, b] = await Promise.all([spawnServer(t, { fresh, env }), spawnServer(t, { fresh, env })]);

    // Ten wrong passwords: even attempts at process A's password grant, odd ones at B's sign-in form,
    // each from another address.
    for (let i = 0; i < 10; i++) {
      const ip = `198.51.100.${i + 1}`;
      const attempt =
        i % 2 === 0
          ? await passwordGrant(a.url, client, user.username, `wrong-${i}`, ip)
          : await signInForm(b.url, user.username, `wrong-${i}`, ip);
      t.equal(attempt.status, i % 2 === 0 ? 400 : 401, `wrong password ${i + 1} refused as wrong, not yet limited`);
    }
    limited(t, await passwordGrant(b.url, client, user.username, 'wrong-again', '198.51.100.200'), 'password grant at B');
    limited(t, await signInForm(a.url, user.username, 'wrong-again', '198.51.100.201'), 'sign-in form at A');
    const right = await passwordGrant(a.url, client, user.username, user.password, '198.51.100.202');
    limited(t, right, 'even the right password, while limited');
    t.notMatch(right.body, /access_token/);
    const json: Json = JSON.parse(right.body);
    t.ok(json.error, 'a JSON OAuth error at the token endpoint');

    const other = await createUserVia(fresh);
    t.equal((await passwordGrant(b.url, client, other.username, other.password)).status, 200, 'another username is not affected');
  },
);

async function createUserVia(fresh: Awaited<ReturnType<typeof freshDatabase>>) {
  return withApp(fresh, (app) => createUser(app));
}

t.test('one IP address, many usernames (password spraying)', async (t) => {
  const server = await startServer(t, { env: { TRUST_PROXY: 'true' } });
  const issued = await createClient(server.app, { grant_types: ['password'], response_types: [] });
  const client = { clientId: issued.clientId, clientSecret: issued.clientSecret };
  const sprayer = '203.0.113.7';
  const limiter = server.app.credentialLimiter;
  t.equal(limiter.ipMaxFailures, 100);
  // 99 failures from the address so far (as if 99 usernames had been tried once each).
  await server.app.db
    .insertInto('credential_failures')
    .values({ subject: CredentialLimiter.forIp(sprayer), window_start: new Date(), failures: limiter.ipMaxFailures - 1 })
    .execute();

  t.equal(
    (await passwordGrant(server.url, client, uniqueName(), 'guess', sprayer)).status,
    400,
    'the 100th failure is still an ordinary refusal',
  );
  limited(t, await passwordGrant(server.url, client, uniqueName(), 'guess', sprayer), 'the next username tried from that address');
  limited(t, await signInForm(server.url, uniqueName(), 'guess', sprayer), 'the sign-in form, from that address');
  const user = await createUser(server.app);
  t.equal(
    (await passwordGrant(server.url, client, user.username, user.password, '203.0.113.8')).status,
    200,
    'other addresses are not affected',
  );
  const row = await server.app.db
    .selectFrom('credential_failures')
    .select('failures')
    .where('subject', '=', CredentialLimiter.forIp(sprayer))
    .executeTakeFirst();
  t.equal(row?.failures, limiter.ipMaxFailures, 'refused attempts are not counted as failures (no password was checked)');
});

t.test('the limiter counts usernames case-insensitively and per address, across instances', async (t) => {
  const fresh = await freshDatabase(t);
  const one = await startServer(t, { fresh });
  const two = onPostgres ? await startServer(t, { fresh }) : one;
  const attempt = { username: ' Alice ', ip: '192.0.2.1' };
  for (let i = 0; i < 10; i++) await (i % 2 ? one : two).app.credentialLimiter.recordFailedAttempt(attempt);
  const verdict = await two.app.credentialLimiter.checkAttempt({ username: 'alice', ip: '192.0.2.99' });
  t.equal(verdict.allowed, false, 'the username is limited from any address');
  t.same(
    await one.app.credentialLimiter.checkAttempt({ username: 'bob', ip: '192.0.2.1' }),
    { allowed: true },
    '10 failures are far from the per-address limit',
  );
});
