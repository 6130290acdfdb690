import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Metrics } from './metrics.js';

/**
 * /metrics with WORKERS > 1: whichever worker answers asks the primary, which collects every
 * worker's registry (prom-client's AggregatorRegistry) and sums them; Prometheus sees one server.
 */
const REQUEST = 'latchkey:metrics-request';
const RESPONSE = 'latchkey:metrics-response';
const TIMEOUT_MS = 7000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsResponse {
  type: typeof RESPONSE;
  id: number;
  body?: string;
  error?: string;
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** In a worker: report this registry to the primary, and serve the cluster's sum at /metrics. */
export function useClusterMetrics(metrics: Metrics): void {
  new AggregatorRegistry(); // installs prom-client's worker-side listener
  AggregatorRegistry.setRegistries([metrics.registry]);
  let next = 0;
  const pending = new Map<number, { resolve: (body: string) => void; reject: (err: Error) => void }>();
  process.on('message', (message: unknown) => {
    if (!isMessage<MetricsResponse>(message, RESPONSE)) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined || message.body === undefined) waiter?.reject(new Error(message.error ?? 'no metrics'));
    else waiter?.resolve(message.body);
  });
  metrics.useSource(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the primary did not answer with metrics'));
        }, TIMEOUT_MS);
        pending.set(id, {
          resolve: (body) => (clearTimeout(timer), resolve(body)),
          reject: (err) => (clearTimeout(timer), reject(err)),
        });
        process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
      }),
  );
}

/** In the primary: answer workers' requests with every worker's metrics, summed. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    const reply = (fields: Pick<MetricsResponse, 'body' | 'error'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...fields } satisfies MetricsResponse);
    };
    aggregator.clusterMetrics().then(
      (body) => reply({ body }),
      (err: Error) => reply({ error: err.message }),
    );
  });
}
