import { onDatabase } from './database.js';

export const GROWTH_ROWS = 1_000_000;
const CHUNK = 250_000;

/**
 * One chunk of rows shaped like what the server stores: the provider's models in realistic
 * shares, 40 % already expired (waiting for the purge), keyed by SHA-256 as the adapter keys
 * them, token rows pointing at grants. All made by the database itself (generate_series).
 */
const FILL = `
insert into oidc_payloads (model, key, payload, grant_key, uid_key, expires_at, consumed_at)
select m.model,
       encode(sha256(convert_to('growth:' || g, 'UTF8')), 'hex'),
       jsonb_build_object(
         'kind', m.model,
         'iat', extract(epoch from now())::int - g % 86400,
         'exp', extract(epoch from now())::int + (case when g % 10 < 4 then -1 else 1 end) * (g % 86400 + 60),
         'accountId', (g % 5000 + 1)::text,
         'clientId', 'growth-client-' || (g % 1000),
         'grantId', 'growth-grant-' || (g / 4),
         'gty', case when g % 3 = 0 then 'client_credentials' when g % 3 = 1 then 'authorization_code' else 'password' end,
         'scope', 'openid profile',
         'expiresWithSession', false,
         'sessionUid', 'growth-session-' || (g % 20000)
       ),
       case when m.model in ('AccessToken', 'RefreshToken', 'AuthorizationCode')
            then encode(sha256(convert_to('growth-grant-' || (g / 4), 'UTF8')), 'hex') end,
       case when m.model in ('Session', 'Interaction')
            then encode(sha256(convert_to('growth-uid:' || g, 'UTF8')), 'hex') end,
       now() + (case when g % 10 < 4 then -1 else 1 end) * (g % 86400 + 60) * interval '1 second',
       case when m.model = 'AuthorizationCode' then now() - interval '1 minute' end
from generate_series($1::int, $2::int) as g
cross join lateral (
  select case
    when g % 100 < 35 then 'AccessToken'
    when g % 100 < 55 then 'ClientCredentials'
    when g % 100 < 70 then 'RefreshToken'
    when g % 100 < 80 then 'Grant'
    when g % 100 < 88 then 'Session'
    when g % 100 < 94 then 'AuthorizationCode'
    else 'Interaction'
  end as model
) as m
`;

/**
 * Fills oidc_payloads with GROWTH_ROWS rows, then refreshes the planner's statistics and
 * writes the fill out (a checkpoint), so that the measurements that follow do not compete with
 * the database's own catching up on it.
 */
export async function fillPayloads(databaseUrl: string, onProgress: (rows: number) => void): Promise<void> {
  await onDatabase(databaseUrl, async (client) => {
    for (let from = 1; from <= GROWTH_ROWS; from += CHUNK) {
      await client.query(FILL, [from, Math.min(from + CHUNK - 1, GROWTH_ROWS)]);
      onProgress(Math.min(from + CHUNK - 1, GROWTH_ROWS));
    }
    await client.query('vacuum analyze oidc_payloads');
    // Needs a superuser (or pg_checkpoint); without one the background writer does it meanwhile.
    await client.query('checkpoint').catch(() => {});
  });
}
