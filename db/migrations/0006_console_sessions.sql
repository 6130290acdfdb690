-- Console sessions: the sign-in of Latchkey's own pages, one row each, so that signing out (or a
-- password change) ends it at once on every instance. The browser's cookie holds a random id;
-- only its SHA-256 is stored, so a copy of this table signs nobody in.
create table console_sessions (
  id_hash text primary key,
  account_id integer not null references accounts (id) on delete cascade,
  signed_in_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  ip text,
  user_agent text
);
create index console_sessions_account on console_sessions (account_id);
create index console_sessions_expires on console_sessions (expires_at);
