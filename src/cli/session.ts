import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import { openDatabase, type Database } from '../db/connect.js';
import { migrate } from '../db/migrate.js';
import { AccountStore, passwordHashing } from '../accounts/store.js';
import { backfillUsernameKeys } from '../accounts/username.js';
import type { ClientStore } from '../clients/store.js';
import type { Services } from '../assembly.js';
import { ConsoleSessions } from '../accounts/console-sessions.js';
import { AccountLifecycle } from '../account-page/lifecycle.js';
import { audit, type AuditEvent, type AuditFields } from '../observability/audit.js';
import { ResourceStore } from '../resources/store.js';

const ignore = () => {};
/** The provider logs only while serving requests, which the command line never does. */
const quietLogger: FastifyBaseLogger = {
  level: 'silent',
  fatal: ignore,
  error: ignore,
  warn: ignore,
  info: ignore,
  debug: ignore,
  trace: ignore,
  silent: ignore,
  child: () => quietLogger,
};

// Audit lines of the command line go to stderr as JSON, one per line, like the server's log;
// stdout stays the command's own output (one JSON object with --json).
const auditLog = pino({ base: { source: 'cli' } }, pino.destination({ dest: 2, sync: true }));

const noPages = async (): Promise<string> => {
  throw new Error('the command line renders no pages');
};

/**
 * What one command works with: the database (migrated), the account store, and, built only
 * when a command needs it, the provider with the client store that checks clients through it.
 */
export class CliSession {
  readonly accounts: AccountStore;
  readonly consoleSessions: ConsoleSessions;
  private servicesBuilt: Promise<Services> | undefined;

  private constructor(
    readonly config: Config,
    readonly database: Database,
    readonly appliedMigrations: string[],
  ) {
    this.accounts = new AccountStore(database.db, passwordHashing(config.hashThreads));
    this.consoleSessions = new ConsoleSessions(database.db);
  }

  static async open(config: Config): Promise<CliSession> {
    const database = await openDatabase(config);
    try {
      const applied = await migrate(database.db);
      await backfillUsernameKeys(database.db);
      return new CliSession(config, database, applied);
    } catch (err) {
      await database.close().catch(() => {});
      throw err;
    }
  }

  get db() {
    return this.database.db;
  }

  /** The protected resources: the table alone, no provider needed. */
  resources(): ResourceStore {
    return new ResourceStore(this.database.db, this.config.issuer);
  }

  /** The provider and the stores built on it, made once and only for commands that need them. */
  private services(): Promise<Services> {
    // Imported here: commands that need no provider do not load oidc-provider at all.
    this.servicesBuilt ??= import('../assembly.js').then(({ assembleServices }) =>
      assembleServices(this.config, this.database, { log: quietLogger, render: noPages }),
    );
    return this.servicesBuilt;
  }

  async provider(): Promise<Provider> {
    return (await this.services()).provider;
  }

  async clients(): Promise<ClientStore> {
    return (await this.services()).clients;
  }

  /** What ends an account's sessions, grants and clients, as the account page uses it. */
  async lifecycle(): Promise<AccountLifecycle> {
    const { provider, clients } = await this.services();
    return new AccountLifecycle({ db: this.db, provider, accounts: this.accounts, consoleSessions: this.consoleSessions, clients });
  }

  /** The audit line of a security event done from the command line. */
  audit(event: AuditEvent, fields: AuditFields = {}): void {
    audit(auditLog, event, fields);
  }

  close(): Promise<void> {
    return this.database.close();
  }
}
