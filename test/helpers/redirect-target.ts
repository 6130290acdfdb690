import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

export interface RedirectTarget {
  /** The redirect URI to register: http://127.0.0.1:<port>/callback */
  redirectUri: string;
  /** Every URL requested so far (a fragment never reaches a server: read it from the browser). */
  received: URL[];
}

/** A tiny client-side web server on 127.0.0.1 that only records where browsers were sent. */
export async function startRedirectTarget(t: Test): Promise<RedirectTarget> {
  const received: URL[] = [];
  const server = createServer((req, res) => {
    received.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><title>Client</title><h1>The client received the redirect</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { redirectUri: `http://127.0.0.1:${port}/callback`, received };
}
