-- Two-factor sign-in with an authenticator app (TOTP, RFC 6238). The secret must be readable to
-- check a code, so it is sealed (crypto/seal.ts) under the cookie keys and the account's id. A row
-- whose enabled_at is null is a setup not yet turned on. last_used_step refuses a code whose time
-- step is not after the last one accepted (a code seen over someone's shoulder is spent).
create table totp_credentials (
  account_id integer primary key references accounts (id) on delete cascade,
  sealed_secret text not null,
  enabled_at timestamptz,
  last_used_step bigint not null default 0,
  created_at timestamptz not null default now()
);
-- Recovery codes: only their SHA-256 (each is 80 random bits), each usable once.
create table recovery_codes (
  account_id integer not null references accounts (id) on delete cascade,
  code_hash text not null,
  used_at timestamptz,
  primary key (account_id, code_hash)
);
-- A sign-in whose password was right and whose second factor is awaited: five minutes, one use.
-- The browser holds a random id in a signed cookie; only its SHA-256 is stored.
create table pending_sign_ins (
  id_hash text primary key,
  account_id integer not null references accounts (id) on delete cascade,
  interaction_uid text,
  expires_at timestamptz not null
);
create index pending_sign_ins_expires on pending_sign_ins (expires_at);
