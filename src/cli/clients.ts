import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.js';
import { ClientValidationError, type ClientInput } from '../oidc/client-metadata.js';
import { requiredString, stringList, stringOption } from './args.js';
import { clientJson, clientText } from './client-text.js';
import type { Command } from './command.js';
import { CliError } from './errors.js';
import { printable, table } from './text.js';

const noSuchClient = (clientId: string) => new CliError(`no client with id "${printable(clientId)}" (see latchkey client list)`);

/** The provider's own metadata check speaks OAuth (error_description); say it in one line too. */
function invalidClient(err: unknown): CliError | undefined {
  if (err instanceof ClientValidationError) return new CliError(`invalid client: ${err.problems.join(' ')}`);
  const description = (err as { error?: unknown; error_description?: unknown }).error_description;
  if (typeof description === 'string' && /^invalid_/.test(String((err as { error?: unknown }).error))) {
    return new CliError(`invalid client: ${description}`);
  }
  return undefined;
}

async function ownerNames(db: Kysely<Schema>): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('client_owners')
    .innerJoin('accounts', 'accounts.id', 'client_owners.owner_id')
    .select(['client_owners.client_id', 'accounts.username'])
    .execute();
  return new Map(rows.map((r) => [r.client_id, r.username]));
}

export const clientCreate: Command = {
  name: 'client create',
  synopsis:
    '--name NAME [--uri URL] [--redirect-uri URL]... [--post-logout-redirect-uri URL]... [--grant-type GRANT]... [--response-type TYPE]... ' +
    '--scope "SCOPE ..." [--auth-method client_secret_basic|client_secret_post|none] [--owner USERNAME]',
  summary: 'register a client; its secret is shown once',
  options: {
    name: { type: 'string' },
    uri: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'grant-type': { type: 'string', multiple: true },
    'response-type': { type: 'string', multiple: true },
    scope: { type: 'string' },
    'auth-method': { type: 'string' },
    owner: { type: 'string' },
  },
  positionals: [],
  async run(args, env) {
    const input: ClientInput = {
      client_name: requiredString(args, 'name'),
      client_uri: stringOption(args, 'uri'),
      redirect_uris: stringList(args, 'redirect-uri'),
      post_logout_redirect_uris: stringList(args, 'post-logout-redirect-uri'),
      grant_types: stringList(args, 'grant-type'),
      response_types: stringList(args, 'response-type'),
      scope: requiredString(args, 'scope'),
      token_endpoint_auth_method: stringOption(args, 'auth-method') ?? 'client_secret_basic',
    };
    const ownerName = stringOption(args, 'owner');
    const session = await env.session();
    const owner = ownerName === undefined ? undefined : await session.accounts.findByUsername(ownerName);
    if (ownerName !== undefined && !owner)
      throw new CliError(`no user named "${printable(ownerName)}" (create one with latchkey user create)`);
    const store = await session.clients();
    const issued = await store.create(input, owner?.id).catch((err: unknown) => {
      throw invalidClient(err) ?? err;
    });
    session.audit('client.created', { client_id: issued.clientId, client_name: input.client_name, owner: owner?.username });
    const metadata = issued.metadata as unknown as Record<string, unknown>;
    const secretText = issued.clientSecret ?? '(none: a public client)';
    const notice = issued.clientSecret ? '\nThe client secret is shown only now: Latchkey keeps only its hash.' : '';
    return {
      text: clientText(metadata, secretText, owner && printable(owner.username)) + notice,
      json: { ...clientJson(metadata, issued.clientSecret), ...(owner ? { owner: owner.username } : {}) },
    };
  },
};

export const clientList: Command = {
  name: 'client list',
  synopsis: '',
  summary: 'every client, newest first',
  options: {},
  positionals: [],
  async run(_args, env) {
    const session = await env.session();
    const clients = await (await session.clients()).listAll();
    const owners = await ownerNames(session.db);
    const rows = clients.map((c) => [
      c.client_id,
      printable(c.client_name ?? ''),
      printable(owners.get(c.client_id) ?? '-'),
      (c.grant_types ?? []).join(' '),
    ]);
    return {
      text: clients.length
        ? table([['CLIENT ID', 'NAME', 'OWNER', 'GRANT TYPES'], ...rows])
        : 'No clients yet (latchkey client create adds one).',
      json: {
        clients: clients.map((c) => ({ ...clientJson(c as unknown as Record<string, unknown>), owner: owners.get(c.client_id) ?? null })),
      },
    };
  },
};

export const clientShow: Command = {
  name: 'client show',
  synopsis: 'CLIENT_ID',
  summary: "one client's metadata (never its secret)",
  options: {},
  positionals: ['a client_id'],
  async run(args, env) {
    const clientId = args.positionals[0]!;
    const session = await env.session();
    const client = await (await session.clients()).get(clientId);
    if (!client) throw noSuchClient(clientId);
    const owner = client.ownerId === undefined ? undefined : await session.accounts.findById(client.ownerId);
    const metadata = client.metadata as unknown as Record<string, unknown>;
    const secretText = client.hasSecret
      ? '(kept only as a hash; latchkey client rotate-secret issues a new one)'
      : '(none: a public client)';
    return {
      text: clientText(metadata, secretText, owner ? printable(owner.username) : '(none)'),
      json: { ...clientJson(metadata), has_secret: client.hasSecret, owner: owner?.username ?? null },
    };
  },
};

export const clientDelete: Command = {
  name: 'client delete',
  synopsis: 'CLIENT_ID',
  summary: 'delete a client and every token, code and grant issued to it',
  options: {},
  positionals: ['a client_id'],
  async run(args, env) {
    const clientId = args.positionals[0]!;
    const session = await env.session();
    if (!(await (await session.clients()).delete(clientId))) throw noSuchClient(clientId);
    session.audit('client.deleted', { client_id: clientId });
    return {
      text: `Deleted client ${printable(clientId)} and every token, code and grant issued to it.`,
      json: { client_id: clientId, deleted: true },
    };
  },
};

export const clientRotateSecret: Command = {
  name: 'client rotate-secret',
  synopsis: 'CLIENT_ID',
  summary: 'issue a new client secret; the old one stops working at once',
  options: {},
  positionals: ['a client_id'],
  async run(args, env) {
    const clientId = args.positionals[0]!;
    const session = await env.session();
    const store = await session.clients();
    const issued = await store.rotateSecret(clientId);
    if (!issued) {
      if (await store.get(clientId))
        throw new CliError(`client ${printable(clientId)} is a public client (auth method "none"): it has no secret`);
      throw noSuchClient(clientId);
    }
    session.audit('client.secret_rotated', { client_id: clientId });
    return {
      text: `New client secret for ${printable(clientId)} (shown only now): ${issued.clientSecret}\nThe previous secret no longer works.`,
      json: { client_id: clientId, client_secret: issued.clientSecret, client_secret_expires_at: 0 },
    };
  },
};
