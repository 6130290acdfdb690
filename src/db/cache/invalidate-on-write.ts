import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { RowCache } from './row-cache.js';

const CACHED_TABLES = new Set(['oidc_payloads', 'accounts', 'resources']);
const RAW_WRITE = /^\s*(insert|update|delete|merge)\b[\s\S]*\b(oidc_payloads|accounts|resources)\b/i;

/** Whether a query tree names a cached table anywhere (target, joins, subqueries). */
function mentionsCachedTable(value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  const node = value as { kind?: unknown; table?: { identifier?: { name?: unknown } } };
  if (node.kind === 'TableNode' && typeof node.table?.identifier?.name === 'string') return CACHED_TABLES.has(node.table.identifier.name);
  return Object.values(value).some(mentionsCachedTable);
}

function writesCachedTable(node: RootOperationNode): boolean {
  switch (node.kind) {
    case 'InsertQueryNode':
    case 'UpdateQueryNode':
    case 'DeleteQueryNode':
    case 'MergeQueryNode':
      return mentionsCachedTable(node);
    case 'RawNode':
      return RAW_WRITE.test(node.sqlFragments.join('?'));
    default:
      return false;
  }
}

/**
 * Writes to cached tables made with Kysely in this process, other than the adapter's own (which
 * forget exactly what they change, and are compiled without plugins), empty the row cache when
 * they finish, so whoever made them sees their effect at once; other processes hear of them
 * through the database's change feed. Such writes are rare (client deletion, tests, tools).
 */
export class InvalidateOnWrite implements KyselyPlugin {
  readonly #writes = new Set<string>();

  constructor(private readonly cache: RowCache) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (writesCachedTable(args.node)) this.#writes.add(args.queryId.queryId);
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#writes.delete(args.queryId.queryId)) this.cache.clear();
    return args.result;
  }
}
