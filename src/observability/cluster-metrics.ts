import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
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

// prom-client's own protocol between the primary and a worker's AggregatorRegistry listener.
const PROM_REQUEST = 'prom-client:getMetricsReq';
const PROM_RESPONSE = 'prom-client:getMetricsRes';
/** How long the primary waits for the workers' registries; a silent worker is left out. */
const COLLECT_MS = 3000;

interface PromResponse {
  type: typeof PROM_RESPONSE;
  requestId: number;
  metrics?: MetricObjectWithValues<MetricValue<string>>[][];
  error?: string;
}

/**
 * In the primary: answer workers' requests with every serving worker's metrics, summed. Only
 * workers that listen are asked (one still starting has no registry yet), and one that does not
 * answer in time is left out rather than failing the scrape.
 */
export function serveClusterMetrics(serving: (worker: Worker) => boolean): void {
  let next = 0;
  const collecting = new Map<
    number,
    { responses: MetricObjectWithValues<MetricValue<string>>[][]; waiting: Set<number>; finish: () => void }
  >();

  const collect = () =>
    new Promise<string>((resolve, reject) => {
      const requestId = next++;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected() && serving(w));
      const state = {
        responses: [] as MetricObjectWithValues<MetricValue<string>>[][],
        waiting: new Set(workers.map((w) => w.id)),
        finish: () => {},
      };
      const timer = setTimeout(() => state.finish(), COLLECT_MS);
      state.finish = () => {
        clearTimeout(timer);
        collecting.delete(requestId);
        AggregatorRegistry.aggregate(state.responses).metrics().then(resolve, reject);
      };
      collecting.set(requestId, state);
      for (const worker of workers) worker.send({ type: PROM_REQUEST, requestId });
      if (workers.length === 0) state.finish();
    });

  cluster.on('message', (worker, message: unknown) => {
    if (isMessage<PromResponse>(message, PROM_RESPONSE)) {
      const state = collecting.get(message.requestId);
      if (!state) return;
      if (message.metrics) state.responses.push(...message.metrics);
      state.waiting.delete(worker.id);
      if (state.waiting.size === 0) state.finish();
      return;
    }
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    const reply = (fields: Pick<MetricsResponse, 'body' | 'error'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...fields } satisfies MetricsResponse);
    };
    collect().then(
      (body) => reply({ body }),
      (err: Error) => reply({ error: err.message }),
    );
  });
}
