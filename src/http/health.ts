import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';

const READY_TIMEOUT_MS = 2000;

/** /healthz: the process answers. /readyz: the database answers too, within two seconds. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([sql`select 1`.execute(app.db), timeout]);
      return { status: 'ready' };
    } catch {
      reply.status(503).header('Retry-After', '5');
      return { status: 'unavailable', error: 'database unreachable' };
    } finally {
      clearTimeout(timer);
    }
  });
}
