import type { FastifyBaseLogger } from 'fastify';
import type Provider from 'oidc-provider';
import type { Kysely } from 'kysely';
import type { Config } from './config.js';
import type { Database } from './db/connect.js';
import { migrate } from './db/migrate.js';
import type { Schema } from './db/schema.js';
import { SCOPES } from './endpoints.js';
import { AccountStore, passwordHashing } from './accounts/store.js';
import { backfillUsernameKeys } from './accounts/username.js';
import { ClientStore } from './clients/store.js';
import { ConsoleSessions } from './accounts/console-sessions.js';
import { providerValidation } from './clients/provider-validation.js';
import { CredentialLimiter } from './limits/credential-limits.js';
import { ensureKeys, loadKeys, type KeyMaterial } from './oidc/keys.js';
import { createProvider } from './oidc/provider.js';
import type { Render } from './oidc/pages.js';
import { ResourceStore } from './resources/store.js';
import { TwoFactorStore } from './accounts/two-factor.js';

/**
 * The one place that puts Latchkey's parts together over a database, for the server, the
 * command line and the cluster's primary alike.
 */

/** Migrations (and the data they leave to code), then the signing and cookie keys (made on first start). Returns the migrations applied. */
export async function prepareDatabase(db: Kysely<Schema>): Promise<string[]> {
  const applied = await migrate(db);
  await backfillUsernameKeys(db);
  await ensureKeys(db);
  return applied;
}

export interface Services {
  keys: KeyMaterial;
  accounts: AccountStore;
  credentialLimiter: CredentialLimiter;
  provider: Provider;
  clients: ClientStore;
  consoleSessions: ConsoleSessions;
  resources: ResourceStore;
  twoFactor: TwoFactorStore;
}

export interface ServiceOptions {
  log: FastifyBaseLogger;
  /** Renders the provider's own pages (the server's views; the command line renders none). */
  render: Render;
}

/** The stores and the provider over a prepared database. */
export async function assembleServices(config: Config, database: Database, { log, render }: ServiceOptions): Promise<Services> {
  const db = database.db;
  await ensureKeys(db);
  const keys = await loadKeys(db);
  const accounts = new AccountStore(db, passwordHashing(config.hashThreads));
  const credentialLimiter = new CredentialLimiter(db);
  const resources = new ResourceStore(db, config.issuer);
  const provider = createProvider({ config, db, keys, accounts, log, render, limiter: credentialLimiter, resources });
  const knownScopes = async () => {
    await resources.registered();
    return [...SCOPES, ...resources.knownScopes()];
  };
  const clients = new ClientStore(db, knownScopes, providerValidation(provider));
  const twoFactor = new TwoFactorStore(db, keys.cookieKeys);
  return { keys, accounts, credentialLimiter, provider, clients, consoleSessions: new ConsoleSessions(db), resources, twoFactor };
}
