import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl for this run. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type Answer = (url: URL, base: string) => { status?: number; headers?: Record<string, string>; body?: string; delayMs?: number };

export interface MetadataHost {
  /** https://127.0.0.1:PORT */
  base: string;
  host: string;
  cert: string;
  /** Paths requested so far, in order. */
  requested: string[];
}

/** An https server on loopback answering each path with `answers[path]`; closed at the end of the test. */
export async function metadataHost(t: Test, answers: Record<string, Answer>): Promise<MetadataHost> {
  const { key, cert } = selfSignedCertificate();
  const requested: string[] = [];
  let base = '';
  const server: Server = createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url ?? '/', base);
    requested.push(url.pathname);
    const answer = answers[url.pathname];
    if (!answer) {
      res.writeHead(404).end();
      return;
    }
    const { status = 200, headers = { 'content-type': 'application/json' }, body = '', delayMs = 0 } = answer(url, base);
    const timer = setTimeout(() => res.writeHead(status, headers).end(body), delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  base = `https://127.0.0.1:${address.port}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { base, host: `127.0.0.1:${address.port}`, cert, requested };
}
