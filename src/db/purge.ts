import { sql, type Kysely } from 'kysely';
import type { FastifyBaseLogger } from 'fastify';
import type { Schema } from './schema.js';

const BATCH = 1000;
const MAX_BATCHES_PER_RUN = 100;

/** Deletes expired rows in small batches, so a purge never holds long locks. Returns rows deleted. */
export async function purgeExpired(db: Kysely<Schema>): Promise<number> {
  let total = 0;
  // Without the row cache's write plugin: no cached entry outlives its row's expiry, so deleting
  // expired rows cannot make one wrong, and clearing the whole cache for it would only cost reads.
  // Other processes still hear of each deleted row through the change feed.
  const expiredOnly = db.withoutPlugins();
  for (let i = 0; i < MAX_BATCHES_PER_RUN; i++) {
    const result = await sql`
      delete from oidc_payloads where (model, key) in (
        select model, key from oidc_payloads where expires_at < now() limit ${BATCH}
      )`.execute(expiredOnly);
    const deleted = Number(result.numAffectedRows ?? 0);
    total += deleted;
    if (deleted < BATCH) break;
  }
  await db
    .deleteFrom('credential_failures')
    .where('window_start', '<', sql<Date>`now() - interval '1 day'`)
    .execute();
  await db
    .deleteFrom('rate_windows')
    .where('window_start', '<', sql<Date>`now() - interval '1 day'`)
    .execute();
  return total;
}

export function startPurgeJob(
  db: Kysely<Schema>,
  log: FastifyBaseLogger,
  intervalMs: number,
  onRun?: (deleted: number) => void,
  /** More to purge on each run, from the stores that know their own expiry (console sessions). */
  sweeps: ReadonlyArray<() => Promise<number>> = [],
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    purgeExpired(db)
      .then(async (expired) => {
        let deleted = expired;
        for (const sweep of sweeps) deleted += await sweep();
        onRun?.(deleted);
        if (deleted) log.info({ deleted }, 'purged expired rows');
      })
      .catch((err: unknown) => log.warn({ err }, 'purge failed; will retry'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
