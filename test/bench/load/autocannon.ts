import autocannon, { type Client, type Options } from 'autocannon';
import type { Driver, Round } from './measurement.js';

/** One kind of request (or a per-connection setup) for autocannon to repeat. */
export interface CannonSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Per connection: its own request, or state carried from one answer to the next request. */
  setupClient?: (client: Client) => void;
}

function options(spec: CannonSpec, connections: number, seconds: number): Options {
  return {
    url: spec.url,
    connections,
    duration: seconds,
    timeout: 30,
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    ...(spec.setupClient ? { setupClient: spec.setupClient } : {}),
  };
}

/** `connections` keep-alive connections sending as fast as answers come, for `seconds`. */
export async function cannonRound(spec: CannonSpec, connections: number, seconds: number): Promise<Round> {
  const latencies: number[] = [];
  const instance = autocannon(options(spec, connections, seconds));
  instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
    if (status < 400) latencies.push(responseTime);
  });
  const result = await instance;
  return { latencies, errors: result.errors + result.timeouts + result.non2xx + result.mismatches, seconds: result.duration };
}

/**
 * A driver over autocannon. `spec()` is asked again before every run (a run may use up
 * per-connection state, such as refresh-token chains); ready() does that before a measured round.
 */
export function cannonDriver(spec: () => CannonSpec | Promise<CannonSpec>, connections: number): Driver {
  let next: CannonSpec | undefined;
  return {
    async warm(seconds) {
      await cannonRound(await spec(), connections, seconds);
    },
    async ready() {
      next = await spec();
    },
    async round(seconds) {
      const current = next ?? (await spec());
      next = undefined;
      return cannonRound(current, connections, seconds);
    },
    close() {},
  };
}
