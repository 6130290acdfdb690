-- Every oidc-provider model (sessions, codes, tokens, grants, clients, ...) lives here.
-- key, grant_key, uid_key and user_code_key are SHA-256 (hex) of the values the provider
-- looks them up by, so a copy of this table holds no usable token, code or session id.
create table oidc_payloads (
  model text not null,
  key text not null,
  payload jsonb not null,
  grant_key text,
  uid_key text,
  user_code_key text,
  expires_at timestamptz,
  consumed_at timestamptz,
  primary key (model, key)
);
create index oidc_payloads_grant on oidc_payloads (grant_key) where grant_key is not null;
create index oidc_payloads_uid on oidc_payloads (uid_key) where uid_key is not null;
create index oidc_payloads_user_code on oidc_payloads (user_code_key) where user_code_key is not null;
create index oidc_payloads_expires on oidc_payloads (expires_at) where expires_at is not null;

create table accounts (
  id integer generated always as identity primary key,
  username text not null,
  password_hash text not null,
  created_at timestamptz not null default now()
);
create unique index accounts_username_lower on accounts (lower(username));

-- Which account registered which client (clients themselves are oidc_payloads rows).
create table client_owners (
  client_id text primary key,
  owner_id integer not null references accounts (id) on delete cascade,
  created_at timestamptz not null default now()
);
create index client_owners_owner on client_owners (owner_id);

create table signing_keys (
  kid text primary key,
  alg text not null,
  private_jwk jsonb not null,
  created_at timestamptz not null default now(),
  retire_at timestamptz
);

create table cookie_keys (
  id integer generated always as identity primary key,
  secret text not null,
  created_at timestamptz not null default now()
);

-- Failed credential checks per subject (e.g. a username), in fixed windows, shared by all instances.
create table credential_failures (
  subject text primary key,
  window_start timestamptz not null,
  failures integer not null
);
