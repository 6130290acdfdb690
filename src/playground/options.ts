import { parseArgs } from 'node:util';

/** How the playground is started: `npm run playground -- --issuer … --port …`. */
export interface PlaygroundOptions {
  /** The Latchkey it talks to (its discovery document is read from there). */
  issuer: URL;
  host: string;
  port: number;
  /** Where browsers reach the playground; the redirect URI is `${publicUrl}/callback`. */
  publicUrl: URL;
}

export class PlaygroundArgsError extends Error {
  override name = 'PlaygroundArgsError';
}

export const PLAYGROUND_USAGE = `usage: npm run playground -- [--issuer URL] [--port N] [--host ADDRESS] [--public-url URL]

  --issuer      the Latchkey to talk to (default http://127.0.0.1:5000)
  --port        where the playground listens (default 8000)
  --host        listen address (default 127.0.0.1)
  --public-url  how browsers reach the playground (default http://<host>:<port>)`;

function httpUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PlaygroundArgsError(`--${name} must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PlaygroundArgsError(`--${name} must use http or https, got "${raw}"`);
  }
  if (url.search || url.hash || url.pathname !== '/') {
    throw new PlaygroundArgsError(`--${name} must be an origin without a path, query or fragment, got "${raw}"`);
  }
  return url;
}

/** Parses the playground's command line; throws PlaygroundArgsError with a one-line message. */
export function parsePlaygroundArgs(argv: string[]): PlaygroundOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        issuer: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'public-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new PlaygroundArgsError((err as Error).message);
  }
  if (values.help) return 'help';
  const rawPort = values.port ?? '8000';
  if (!/^\d+$/.test(rawPort) || Number(rawPort) > 65535) {
    throw new PlaygroundArgsError(`--port must be a number from 0 to 65535, got "${rawPort}"`);
  }
  const port = Number(rawPort);
  const host = values.host ?? '127.0.0.1';
  const issuer = httpUrl('issuer', values.issuer ?? 'http://127.0.0.1:5000');
  const publicUrl = httpUrl('public-url', values['public-url'] ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return { issuer, host, port, publicUrl };
}
