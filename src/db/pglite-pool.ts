import type { PGlite } from '@electric-sql/pglite';

/**
 * The shape of a pg Pool that Kysely's PostgresDialect needs, over one embedded PGlite.
 * PGlite is a single connection, so a connection is handed to one user at a time:
 * a transaction holds it from BEGIN to COMMIT and nothing interleaves.
 */
export class PGlitePool {
  private queue: Array<() => void> = [];
  private busy = false;

  constructor(private readonly pglite: PGlite) {}

  async connect(): Promise<PGliteClient> {
    if (this.busy) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.busy = true;
    return new PGliteClient(this.pglite, () => this.release());
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.busy = false;
  }

  async end(): Promise<void> {
    await this.pglite.close();
  }
}

class PGliteClient {
  private released = false;

  constructor(
    private readonly pglite: PGlite,
    private readonly onRelease: () => void,
  ) {}

  async query(sql: string, params: readonly unknown[] = []) {
    const result = await this.pglite.query<Record<string, unknown>>(sql, [...params]);
    const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
    return { command, rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}
