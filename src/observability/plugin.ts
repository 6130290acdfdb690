import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { audit, type AuditEvent, type AuditFields } from './audit.js';
import { Metrics } from './metrics.js';
import { routeLabel } from './route-label.js';

/** The status recorded for a request whose client went away before the response was complete. */
const ABORTED = 499;

/**
 * Metrics and audit for every request, including those the provider answers through middie:
 * register this BEFORE the provider is mounted, so its onRequest hook runs first.
 *
 * Decorates `app.metrics` (a Metrics) and `request.audit(event, fields)`, and serves GET /metrics.
 */
async function observability(app: FastifyInstance): Promise<void> {
  const metrics = new Metrics(app.database);
  app.decorate('metrics', metrics);

  app.decorateRequest('audit', function (this: FastifyRequest, event: AuditEvent, fields: AuditFields = {}) {
    metrics.audited(event);
    audit(this.log, event, { ip: this.ip, ...fields });
  });

  // A callback, not an async function: no promise per request (each one costs more once
  // oidc-provider's AsyncLocalStorage has turned on promise hooks).
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    reply.raw.once('close', () => {
      const status = reply.raw.writableFinished ? reply.raw.statusCode : ABORTED;
      metrics.request(request.method, routeLabel(request.url, request.routeOptions.url), status, (performance.now() - started) / 1000);
    });
    done();
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.render();
    return reply.header('Content-Type', metrics.contentType).header('Cache-Control', 'no-store').send(body);
  });
}

export const observabilityPlugin = fp(observability, { name: 'latchkey-observability' });
