import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import type { Schema } from '../db/schema.js';
import type { AccountStore } from '../accounts/store.js';
import type { ClientStore } from '../clients/store.js';
import type { CredentialLimiter } from '../ops/credential-limits.js';

// What app.ts hands every feature plugin.
declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    database: Database;
    db: Kysely<Schema>;
    accounts: AccountStore;
    provider: Provider;
    clients: ClientStore;
    credentialLimiter: CredentialLimiter;
  }
}
