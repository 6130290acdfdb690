import type { Server, ServerResponse } from 'node:http';

/** How often idle keep-alive connections are closed while shutting down. */
const SWEEP_MS = 100;

/**
 * Graceful shutdown for keep-alive clients. server.close() stops accepting and closes the
 * connections idle at that moment, but a connection whose request is still in flight would stay
 * open after its response (until the keep-alive timeout) and hold the process. Call the returned
 * `drain()` when shutting down: responses not yet started say `Connection: close`, and
 * connections that become idle are closed, so close() completes once the last request is done.
 */
export function trackConnections(server: Server): { drain(): void } {
  const active = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    active.add(res);
    res.once('close', () => active.delete(res));
  });
  return {
    drain() {
      for (const res of active) if (!res.headersSent) res.shouldKeepAlive = false;
      const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
      sweep.unref();
      server.once('close', () => clearInterval(sweep));
    },
  };
}
