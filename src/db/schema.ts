import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OidcPayloadsTable {
  model: string;
  key: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  grant_key: string | null;
  uid_key: string | null;
  user_code_key: string | null;
  expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  consumed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AccountsTable {
  id: Generated<number>;
  username: string;
  /** The canonical form (src/accounts/username.ts): unique, and what sign-in looks up. */
  username_key: string | null;
  password_hash: string;
  created_at: Timestamp;
  /** Set by an operator (latchkey user disable): the account signs in nowhere and its tokens are refused. */
  disabled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface ClientOwnersTable {
  client_id: string;
  owner_id: number;
  created_at: Timestamp;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: ColumnType<Record<string, unknown>, string, string>;
  created_at: Timestamp;
  retire_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface CookieKeysTable {
  id: Generated<number>;
  secret: string;
  created_at: Timestamp;
}

export interface CredentialFailuresTable {
  subject: string;
  window_start: Timestamp;
  failures: number;
}

export interface RateWindowsTable {
  subject: string;
  window_start: Timestamp;
  hits: number;
}

export interface ConsoleSessionsTable {
  id_hash: string;
  account_id: number;
  signed_in_at: ColumnType<Date, Date | string | undefined, never>;
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  ip: string | null;
  user_agent: string | null;
}

export interface ResourcesTable {
  uri: string;
  name: string;
  /** Space-separated scope tokens. */
  scopes: string;
  created_at: Timestamp;
}

export interface TotpCredentialsTable {
  account_id: number;
  sealed_secret: string;
  /** Null while the setup waits for its first code (Turn on). */
  enabled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  last_used_step: ColumnType<string, number | string | undefined, number | string>;
  created_at: Timestamp;
}

export interface RecoveryCodesTable {
  account_id: number;
  code_hash: string;
  used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface PendingSignInsTable {
  id_hash: string;
  account_id: number;
  interaction_uid: string | null;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: Timestamp;
}

export interface Schema {
  oidc_payloads: OidcPayloadsTable;
  accounts: AccountsTable;
  client_owners: ClientOwnersTable;
  signing_keys: SigningKeysTable;
  cookie_keys: CookieKeysTable;
  credential_failures: CredentialFailuresTable;
  rate_windows: RateWindowsTable;
  console_sessions: ConsoleSessionsTable;
  resources: ResourcesTable;
  totp_credentials: TotpCredentialsTable;
  recovery_codes: RecoveryCodesTable;
  pending_sign_ins: PendingSignInsTable;
  schema_migrations: SchemaMigrationsTable;
}
