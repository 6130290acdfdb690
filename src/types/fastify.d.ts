import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import type { Schema } from '../db/schema.js';
import type { Account, AccountStore } from '../accounts/store.js';
import type { PasswordCheck } from '../accounts/password-check.js';
import type { SignUpResult } from '../accounts/sign-up.js';
import type { ClientStore } from '../clients/store.js';
import type { CredentialLimiter } from '../limits/credential-limits.js';
import type { ConsoleSessions } from '../accounts/console-sessions.js';
import type { Metrics } from '../observability/metrics.js';
import type { ResourceStore } from '../resources/store.js';
import type { TwoFactorStore } from '../accounts/two-factor.js';
import type { SecondFactorCheck } from '../accounts/second-factor.js';
import type { AuditEvent, AuditFields } from '../observability/audit.js';

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
    consoleSessions: ConsoleSessions;
    /** The protected resources (Latchkey's API and those registered with latchkey resource create). */
    resources: ResourceStore;
    /** Authenticator apps, recovery codes and the sign-ins waiting for them (src/accounts/two-factor.ts). */
    twoFactor: TwoFactorStore;
    /** A second factor's code, under the credential limits with a subject per account, with its audit line (src/accounts/console.ts). */
    checkSecondFactor(accountId: number, code: string, request: FastifyRequest): Promise<SecondFactorCheck>;
    /** A sign-in form's password check, with the per-username limit (src/accounts/console.ts). */
    checkPassword(username: string, password: string, request?: FastifyRequest): Promise<PasswordCheck>;
    /** Creates an account under the sign-up limit, with its audit line (accounts/sign-up.ts). */
    createAccount(username: string, password: string, request: FastifyRequest): Promise<SignUpResult>;
    /** Prometheus metrics (src/observability/metrics.ts): signInFailure(), passwordGrantFailure(), ... */
    metrics: Metrics;
  }
  interface FastifyRequest {
    /** The person signed in to the console on this page, or null (src/accounts/console.ts). */
    account: Account | null;
    /** When they typed their password (seconds since the epoch); 0 when nobody is signed in. */
    signedInAt: number;
    /** The id of this browser's console session (from its cookie), or null. */
    consoleSessionId: string | null;
    /** Writes an audit line (with the request id and IP) and counts it: request.audit('sign_in.failure', { username }). */
    audit(event: AuditEvent, fields?: AuditFields): void;
  }
  interface FastifyReply {
    /** @fastify/view's data for every template of this reply (the plugin does not type it). */
    locals: Record<string, unknown>;
    /** Starts a console session (a row, and its id in a signed cookie) for this account (src/accounts/console.ts). */
    signIn(account: Account): Promise<void>;
    /** Ends this browser's console session, on every instance. */
    signOutOfConsole(): Promise<void>;
  }
}
