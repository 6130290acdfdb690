import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How often idle keep-alive connections are closed while shutting down. */
const SWEEP_MS = 100;

/** On each connection: the response of the last request that arrived on it. */
const latestResponse = Symbol('latest response');
type TrackedSocket = Socket & { [latestResponse]?: ServerResponse };

/**
 * Graceful shutdown for keep-alive clients. server.close() stops accepting and closes the
 * connections idle at that moment, but a connection whose request is still in flight would stay
 * open after its response (until the keep-alive timeout) and hold the process. Call the returned
 * `drain()` when shutting down: responses not yet started say `Connection: close`, and
 * connections that become idle are closed, so close() completes once the last request is done.
 *
 * Connections are tracked, not requests: a long-lived collection that gains and loses an entry
 * on every request keeps each request's objects alive through young-generation collections (a
 * Set's dropped tables stay linked to the new ones), which cost a full heap collection every
 * few hundred milliseconds under load. A connection only remembers its latest response.
 */
export function trackConnections(server: Server): { drain(): void } {
  const connections = new Set<TrackedSocket>();
  server.on('connection', (socket: TrackedSocket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request: { socket: TrackedSocket }, res: ServerResponse) => {
    request.socket[latestResponse] = res;
  });
  return {
    drain() {
      // With pipelining, the latest response is the connection's last: closing after it is enough.
      for (const socket of connections) {
        const res = socket[latestResponse];
        if (res && !res.headersSent) res.shouldKeepAlive = false;
      }
      const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
      sweep.unref();
      server.once('close', () => clearInterval(sweep));
    },
  };
}
