-- Every Latchkey process keeps rows it reads often in memory (src/db/row-cache.ts): clients,
-- grants and accounts. When such a row changes or is deleted, by whatever path
-- (a server, the CLI, plain SQL), the database tells every listening process, on channel
-- latchkey_row_changed, which row: "<model>:<key>" or "account:<id>". Rows already expired are
-- not announced (the purge deletes those, and nothing serves them anyway).
drop trigger if exists oidc_payloads_client_changed on oidc_payloads;
drop function if exists latchkey_client_changed();
create or replace function latchkey_payload_changed() returns trigger language plpgsql as $$ begin perform pg_notify('latchkey_row_changed', old.model || ':' || old.key); return null; end $$;
create trigger oidc_payloads_changed after update or delete on oidc_payloads for each row when (old.model in ('Client', 'Grant') and (old.expires_at is null or old.expires_at > now())) execute function latchkey_payload_changed();
create or replace function latchkey_account_changed() returns trigger language plpgsql as $$ begin perform pg_notify('latchkey_row_changed', 'account:' || old.id); return null; end $$;
create trigger accounts_changed after update or delete on accounts for each row execute function latchkey_account_changed();
