import { ResourceValidationError, type Resource } from '../resources/rules.js';
import { requiredString } from './args.js';
import type { Command } from './command.js';
import { CliError } from './errors.js';
import { printable, table } from './text.js';

const resourceJson = (r: Resource) => ({ uri: r.uri, name: r.name, scopes: [...r.scopes] });

export const resourceCreate: Command = {
  name: 'resource create',
  synopsis: '--uri URI --name NAME --scope "SCOPE ..."',
  summary: 'register a protected resource: tokens asked for with resource=URI are JWTs for it',
  options: { uri: { type: 'string' }, name: { type: 'string' }, scope: { type: 'string' } },
  positionals: [],
  async run(args, env) {
    const input = { uri: requiredString(args, 'uri'), name: requiredString(args, 'name'), scope: requiredString(args, 'scope') };
    const session = await env.session();
    const resource = await session
      .resources()
      .create(input)
      .catch((err: unknown) => {
        throw err instanceof ResourceValidationError ? new CliError(`invalid resource: ${err.message}`) : err;
      });
    session.audit('resource.created', { uri: resource.uri, name: resource.name, scopes: resource.scopes });
    return {
      text: `Registered resource ${printable(resource.uri)} (${printable(resource.name)}), scopes: ${resource.scopes.join(' ')}.`,
      json: resourceJson(resource),
    };
  },
};

export const resourceList: Command = {
  name: 'resource list',
  synopsis: '',
  summary: "every protected resource, Latchkey's own API first",
  options: {},
  positionals: [],
  async run(_args, env) {
    const session = await env.session();
    const store = session.resources();
    const registered = await store.registered();
    const rows = [store.api, ...registered].map((r) => [printable(r.uri), printable(r.name), r.scopes.join(' ')]);
    return {
      text:
        table([['URI', 'NAME', 'SCOPES'], ...rows]) +
        (registered.length ? '' : '\n(No resources registered yet: latchkey resource create adds one.)'),
      json: {
        resources: [{ ...resourceJson(store.api), built_in: true }, ...registered.map((r) => ({ ...resourceJson(r), built_in: false }))],
      },
    };
  },
};

export const resourceDelete: Command = {
  name: 'resource delete',
  synopsis: 'URI',
  summary: 'delete a protected resource: tokens can no longer be asked for it (issued ones live until they expire)',
  options: {},
  positionals: ['a resource URI'],
  async run(args, env) {
    const uri = args.positionals[0]!;
    const session = await env.session();
    const store = session.resources();
    if (uri === store.api.uri) throw new CliError(`${printable(uri)} is Latchkey's own API: it is always a resource`);
    if (!(await store.delete(uri))) throw new CliError(`no resource with URI "${printable(uri)}" (see latchkey resource list)`);
    session.audit('resource.deleted', { uri });
    return { text: `Deleted resource ${printable(uri)}.`, json: { uri, deleted: true } };
  },
};
