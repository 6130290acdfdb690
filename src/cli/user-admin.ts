import { AccountError, validPassword, type AccountRecord } from '../accounts/store.js';
import { grantsOf } from '../oidc/adapter/grants.js';
import { removeTwoFactor, twoFactorOn } from '../accounts/two-factor.js';
import type { EndedSessions } from '../account-page/lifecycle.js';
import { flag, requiredString, type ParsedArgs } from './args.js';
import type { Command, CommandEnv } from './command.js';
import { CliError, UsageError } from './errors.js';
import { readPasswordLine } from './password-stdin.js';
import type { CliSession } from './session.js';
import { isoTime, listText, printable, table } from './text.js';

const epoch = (date: Date | null) => (date ? Math.floor(date.getTime() / 1000) : null);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const status = (account: AccountRecord) => (account.disabledAt ? `disabled since ${isoTime(epoch(account.disabledAt)!)}` : 'active');

function userJson(account: AccountRecord) {
  return { id: account.id, username: account.username, created_at: epoch(account.createdAt), disabled_at: epoch(account.disabledAt) };
}

const endedJson = (ended: EndedSessions) => ({ console: ended.console, oidc: ended.oidc });
const endedText = (ended: EndedSessions) =>
  `${plural(ended.console, 'console session')} and ${plural(ended.oidc, 'OpenID Connect session')} ended`;

/** The account named by the command's NAME (or --username), disabled or not; a one-line error when there is none. */
async function namedAccount(env: CommandEnv, username: string): Promise<{ session: CliSession; account: AccountRecord }> {
  const session = await env.session();
  const account = await session.accounts.findByUsername(username);
  if (!account) throw new CliError(`no user named "${printable(username.trim())}" (see latchkey user list)`);
  return { session, account };
}

const nameOf = (args: ParsedArgs) => args.positionals[0]!;

export const userList: Command = {
  name: 'user list',
  synopsis: '',
  summary: 'every account, oldest first, and whether it is disabled',
  options: {},
  positionals: [],
  async run(_args, env) {
    const accounts = await (await env.session()).accounts.list();
    const rows = accounts.map((a) => [String(a.id), printable(a.username), isoTime(epoch(a.createdAt)!), status(a)]);
    return {
      text: accounts.length ? table([['ID', 'USERNAME', 'CREATED', 'STATUS'], ...rows]) : 'No users yet (latchkey user create adds one).',
      json: { users: accounts.map(userJson) },
    };
  },
};

export const userShow: Command = {
  name: 'user show',
  synopsis: 'NAME',
  summary: 'one account: its status, sessions, connected apps and clients',
  options: {},
  positionals: ['a username'],
  async run(args, env) {
    const { session, account } = await namedAccount(env, nameOf(args));
    const sessions = await session.consoleSessions.listOf(account.id);
    const grants = await grantsOf(session.db, String(account.id));
    const clients = (await (await session.clients()).listByOwner(account.id)).map((c) => c.client_id);
    const apps = new Set(grants.map((g) => g.clientId)).size;
    const twoFactor = await twoFactorOn(session.db, account.id);
    const lastSeen = sessions[0] ? `, last seen ${isoTime(sessions[0].lastSeenAt)}` : '';
    return {
      text: [
        `User ${printable(account.username)} (id ${account.id})`,
        `  created_at: ${isoTime(epoch(account.createdAt)!)}`,
        `  status: ${status(account)}`,
        `  two-factor: ${twoFactor ? 'on (authenticator app)' : 'off'}`,
        `  console sessions: ${sessions.length}${lastSeen}`,
        `  connected apps: ${apps}`,
        `  clients: ${listText(clients)}`,
      ].join('\n'),
      json: { ...userJson(account), two_factor: twoFactor, console_sessions: sessions.length, connected_apps: apps, clients },
    };
  },
};

export const userSetPassword: Command = {
  name: 'user set-password',
  synopsis: '--username NAME --password-stdin',
  summary: "a new password (first line of standard input); the account's sessions end",
  options: { username: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
  positionals: [],
  async run(args, env) {
    const username = requiredString(args, 'username');
    if (!flag(args, 'password-stdin')) {
      throw new UsageError('"user set-password" reads the password from standard input: add --password-stdin and pipe it in');
    }
    let password: string;
    try {
      password = validPassword(await readPasswordLine(env.stdin));
    } catch (err) {
      if (err instanceof AccountError) throw new CliError(`cannot set the password of "${printable(username.trim())}": ${err.message}`);
      throw err;
    }
    const { session, account } = await namedAccount(env, username);
    const ended = await (await session.lifecycle()).changePassword(account.id, password);
    if (!ended) throw new CliError(`no user named "${printable(username.trim())}" (see latchkey user list)`);
    session.audit('account.password_changed', { account: account.id, username: account.username, via: 'cli' });
    session.audit('account.sessions_ended', { account: account.id, console: ended.console, oidc: ended.oidc, via: 'cli' });
    return {
      text: `New password set for ${printable(account.username)}; ${endedText(ended)}.`,
      json: { id: account.id, username: account.username, sessions_ended: endedJson(ended) },
    };
  },
};

export const userDisable: Command = {
  name: 'user disable',
  synopsis: 'NAME',
  summary: 'the account signs in nowhere, its sessions end and its tokens stop working at once',
  options: {},
  positionals: ['a username'],
  async run(args, env) {
    const { session, account } = await namedAccount(env, nameOf(args));
    const done = await (await session.lifecycle()).disable(account.id);
    if (!done) throw new CliError(`no user named "${printable(account.username)}" (see latchkey user list)`);
    const disabled = await session.accounts.findByUsername(account.username);
    session.audit('account.disabled', { account: account.id, username: account.username, grants: done.grants, via: 'cli' });
    session.audit('account.sessions_ended', { account: account.id, console: done.sessions.console, oidc: done.sessions.oidc, via: 'cli' });
    return {
      text: [
        `Disabled ${printable(account.username)}: it cannot sign in (latchkey user enable undoes this).`,
        `${endedText(done.sessions)}; ${plural(done.grants, 'grant')} revoked with every token issued under them.`,
      ].join('\n'),
      json: { ...userJson(disabled ?? account), sessions_ended: endedJson(done.sessions), grants_revoked: done.grants },
    };
  },
};

export const userEnable: Command = {
  name: 'user enable',
  synopsis: 'NAME',
  summary: 'a disabled account may sign in again (its revoked tokens stay revoked)',
  options: {},
  positionals: ['a username'],
  async run(args, env) {
    const { session, account } = await namedAccount(env, nameOf(args));
    await (await session.lifecycle()).enable(account.id);
    session.audit('account.enabled', { account: account.id, username: account.username, via: 'cli' });
    return {
      text: `Enabled ${printable(account.username)}: it can sign in again.`,
      json: { ...userJson({ ...account, disabledAt: null }) },
    };
  },
};

export const userDelete: Command = {
  name: 'user delete',
  synopsis: 'NAME',
  summary: 'delete an account, its sessions, its grants and their tokens, and the clients it owns',
  options: {},
  positionals: ['a username'],
  async run(args, env) {
    const { session, account } = await namedAccount(env, nameOf(args));
    const deleted = await (await session.lifecycle()).delete(account.id);
    if (!deleted) throw new CliError(`no user named "${printable(account.username)}" (see latchkey user list)`);
    session.audit('account.deleted', {
      account: account.id,
      username: account.username,
      grants: deleted.grants,
      clients: deleted.clients,
      via: 'cli',
    });
    return {
      text: `Deleted user ${printable(account.username)}, ${plural(deleted.clients.length, 'client')} it owned and ${plural(deleted.grants, 'grant')} with their tokens.`,
      json: { id: account.id, username: account.username, deleted: true, clients: deleted.clients, grants_revoked: deleted.grants },
    };
  },
};

export const userReset2fa: Command = {
  name: 'user reset-2fa',
  synopsis: 'NAME',
  summary: "remove the account's authenticator app and recovery codes: it signs in with its password alone",
  options: {},
  positionals: ['a username'],
  async run(args, env) {
    const { session, account } = await namedAccount(env, nameOf(args));
    const removed = await removeTwoFactor(session.db, account.id);
    session.audit('totp.reset', { account: account.id, username: account.username, removed, via: 'cli' });
    return {
      text: removed
        ? `Two-factor sign-in of ${printable(account.username)} removed: it signs in with its password alone until it sets up an app again.`
        : `${printable(account.username)} had no authenticator app; nothing to remove.`,
      json: { id: account.id, username: account.username, two_factor_removed: removed },
    };
  },
};
