import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import type { Schema } from '../db/schema.js';
import type { AccountStore } from '../accounts/store.js';
import type { ConsoleSessions } from '../accounts/console-sessions.js';
import type { ClientStore } from '../clients/store.js';
import { endOidcSessionsOf, revokeGrantsOf } from '../oidc/adapter/grants.js';

export interface AccountParts {
  db: Kysely<Schema>;
  provider: Provider;
  accounts: AccountStore;
  consoleSessions: ConsoleSessions;
  clients: ClientStore;
}

/** The sessions to keep when the others end: this browser's, after a password change. */
export interface KeptSessions {
  consoleSessionId?: string | undefined;
  oidcSessionId?: string | undefined;
}

export interface EndedSessions {
  /** Console sessions (Latchkey's own pages). */
  console: number;
  /** OpenID Connect sessions (the provider's, of authorizations). */
  oidc: number;
}

/**
 * What ends an account's access, shared by the account page and the command line: its sessions
 * (console and OpenID Connect, at once on every instance: both are rows), its grants with every
 * token and code issued under them (as Revoke on the connected apps page ends one), its clients.
 */
export class AccountLifecycle {
  constructor(private readonly parts: AccountParts) {}

  /** Ends the account's sessions, but the ones of `keep`. */
  async endSessions(accountId: number, keep: KeptSessions = {}): Promise<EndedSessions> {
    const consoleEnded = await this.parts.consoleSessions.endAllOf(accountId, keep.consoleSessionId);
    const oidc = await endOidcSessionsOf(this.parts.db, String(accountId), keep.oidcSessionId);
    return { console: consoleEnded, oidc };
  }

  /** A new password; every session but the ones of `keep` ends (whoever else knew the old one is signed out). */
  async changePassword(accountId: number, password: string, keep: KeptSessions = {}): Promise<EndedSessions | undefined> {
    if (!(await this.parts.accounts.setPassword(accountId, password))) return undefined;
    return this.endSessions(accountId, keep);
  }

  /**
   * Disables the account first (nothing new signs in or is issued from then on: every password
   * check, the provider's findAccount and /api/me refuse it), then ends what already exists: its
   * sessions and its grants with their tokens. Undefined when there is no such account.
   */
  async disable(accountId: number): Promise<{ sessions: EndedSessions; grants: number } | undefined> {
    if (!(await this.parts.accounts.setDisabled(accountId, true))) return undefined;
    const sessions = await this.endSessions(accountId);
    const grants = await revokeGrantsOf(this.parts.provider, this.parts.db, String(accountId));
    return { sessions, grants };
  }

  enable(accountId: number): Promise<boolean> {
    return this.parts.accounts.setDisabled(accountId, false);
  }

  /**
   * Deletes the account and everything of it: disabled first (so that nothing new is issued
   * meanwhile), then its sessions, its grants and their tokens and codes, the clients it owns
   * (each with everything issued to it), and the account row last. Undefined when there is no such account.
   */
  async delete(accountId: number): Promise<{ grants: number; clients: string[] } | undefined> {
    const ended = await this.disable(accountId);
    if (!ended) return undefined;
    const owned = await this.parts.clients.listByOwner(accountId);
    for (const client of owned) await this.parts.clients.delete(client.client_id);
    await this.parts.accounts.delete(accountId);
    return { grants: ended.grants, clients: owned.map((c) => c.client_id) };
  }
}
