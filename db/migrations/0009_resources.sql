-- Protected resources (RFC 8707 resource indicators) registered with `latchkey resource create`:
-- a token asked for with resource=<uri> is a JWT whose audience is that uri. Every Latchkey
-- process keeps the whole list in its row cache (src/resources/store.ts); any change to the
-- table, by whatever path, is announced on latchkey_row_changed as "resources:all", so running
-- servers see a new or deleted resource at once.
create table resources (uri text primary key, name text not null, scopes text not null, created_at timestamptz not null default now());
create or replace function latchkey_resources_changed() returns trigger language plpgsql as $$ begin perform pg_notify('latchkey_row_changed', 'resources:all'); return null; end $$;
create trigger resources_changed after insert or update or delete or truncate on resources for each statement execute function latchkey_resources_changed();
