import autocannon, { type Client, type Options, type Result } from 'autocannon';
import type { LoadSettings, Measurement } from './measurement.js';

/** One kind of request (or a per-connection sequence) for autocannon to repeat. */
export interface CannonSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Per connection: for requests that depend on the previous answer (refresh rotation). */
  setupClient?: (client: Client) => void;
}

function options(spec: CannonSpec, connections: number, duration: number): Options {
  return {
    url: spec.url,
    connections,
    duration,
    timeout: 30,
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    ...(spec.setupClient ? { setupClient: spec.setupClient } : {}),
  };
}

function measurement(result: Result): Measurement {
  const operations = result.requests.total;
  return {
    rate: operations / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx + result.mismatches,
    operations,
    seconds: result.duration,
  };
}

/** A warm-up (discarded), then the measured run; both bounded in time. */
export async function runCannon(spec: CannonSpec | (() => CannonSpec), load: LoadSettings): Promise<Measurement> {
  const make = typeof spec === 'function' ? spec : () => spec;
  if (load.warmup > 0) {
    await autocannon(options(make(), load.connections, load.warmup));
    // Slow requests (password checks) the warm-up left in flight are still being served:
    // let the server finish them, or they would eat into the measured seconds.
    await load.probe?.settle();
  }
  const measured = options(make(), load.connections, load.duration);
  load.probe?.start();
  const result = await autocannon(measured);
  load.probe?.stop();
  return measurement(result);
}
