import pg from 'pg';

// Statement texts get a name the first time they are seen; pg then parses and plans each one
// once per connection and afterwards only binds and executes it. Kysely builds a bounded set of
// texts (one per query shape); past this many, further texts run unnamed, as before.
const MAX_NAMED_STATEMENTS = 500;
const names = new Map<string, string>();

function nameFor(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
    name = `latchkey_${names.size}`;
    names.set(text, name);
  }
  return name;
}

/**
 * A pg Client that runs parameterized queries as named (prepared) statements. Only queries with
 * parameters are named: the statements of migrations (DDL, several statements at once) and
 * other parameterless texts keep the simple protocol.
 */
export class PreparedStatementClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values, callback] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
      const name = nameFor(text);
      if (name) return super.query({ name, text, values }) as never;
    }
    return (super.query as (...a: unknown[]) => unknown)(...args) as never;
  }
}
