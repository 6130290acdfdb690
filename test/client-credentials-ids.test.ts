import t from 'tap';
import { newClientId, newClientSecret } from '../src/oidc/client-ids.js';

// One id in 64 would start with "-" if drawn plainly: `latchkey client delete -K…` then read
// it as an option (seen in CI). 20,000 draws would hold about 300 such ids.
t.test('client ids: 24 base64url characters, never a leading "-"', async (t) => {
  const ids = Array.from({ length: 20_000 }, newClientId);
  t.same(
    ids.filter((id) => !/^[A-Za-z0-9_][A-Za-z0-9_-]{23}$/.test(id)),
    [],
  );
  t.equal(new Set(ids).size, ids.length, 'all different');
  t.ok(
    ids.some((id) => id.includes('-')),
    'a "-" elsewhere is fine',
  );
});

t.test('client secrets: 48 base64url characters', async (t) => {
  t.match(newClientSecret(), /^[A-Za-z0-9_-]{48}$/);
});
