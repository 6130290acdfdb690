-- Every Latchkey process keeps the clients it uses in memory (src/db/client-cache.ts). When a
-- client row changes or is deleted, by whatever path (a server, the CLI, plain SQL), the
-- database tells every listening process on channel latchkey_client_changed, with the row's key.
create or replace function latchkey_client_changed() returns trigger language plpgsql as $$ begin perform pg_notify('latchkey_client_changed', old.key); return null; end $$;
create trigger oidc_payloads_client_changed after update or delete on oidc_payloads for each row when (old.model = 'Client') execute function latchkey_client_changed();
