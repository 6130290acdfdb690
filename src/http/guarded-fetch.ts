import { lookup } from 'node:dns/promises';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { isIP, type LookupFunction } from 'node:net';
import { isSpecialAddress } from './special-addresses.js';

/**
 * The one way this server fetches a URL it was given by someone else (today: Client ID
 * Metadata Documents). https only; GET; no redirects followed (a 3xx is handed back as it is,
 * and the caller refuses it); the body read up to a limit and no further; a deadline for the
 * whole exchange; and never to a special address (special-addresses.ts) unless the host is
 * allow-listed. The name is resolved once, every address it gives is checked, and the
 * connection goes to the checked address itself, so a second resolution (DNS rebinding)
 * cannot move it elsewhere.
 */
export interface GuardedFetchOptions {
  /** `host[:port]` (as URL.host writes it) that may be reached although special. */
  allowHosts: readonly string[];
  /** Bytes of body at most; a longer one fails the fetch. */
  maxBytes: number;
  /** Milliseconds for the whole fetch, from resolving to the last byte. */
  timeoutMs: number;
  /** Called with the target host before anything is sent; false refuses the fetch (rate limits). */
  admit?: (host: string) => boolean;
  /** Extra certificate authorities to trust (PEM), on top of the system's: tests only. */
  ca?: string | undefined;
}

export class GuardedFetchError extends Error {}

export interface GuardedInit {
  headers?: ConstructorParameters<typeof Headers>[0];
  signal?: AbortSignal | null;
}

export type GuardedFetch = (url: string | URL, init?: GuardedInit) => Promise<Response>;

const NULL_BODY = new Set([101, 204, 205, 304]);

async function vettedAddress(hostname: string, allowed: boolean): Promise<{ address: string; family: number }> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  const found = family ? [{ address: bare, family }] : await lookup(bare, { all: true, verbatim: true });
  if (!found.length) throw new GuardedFetchError(`${hostname} does not resolve`);
  if (!allowed) {
    const special = found.find((a) => isSpecialAddress(a.address));
    if (special) throw new GuardedFetchError(`${hostname} resolves to ${special.address}, a special-use address`);
  }
  return found[0]!;
}

export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  const allowHosts = new Set(options.allowHosts);
  const ca = options.ca ? [...rootCertificates, options.ca] : undefined;

  return async (input, init = {}) => {
    const url = new URL(input);
    if (url.protocol !== 'https:') throw new GuardedFetchError(`only https URLs are fetched, not ${url.protocol}`);
    if (url.username || url.password) throw new GuardedFetchError('URLs with credentials are not fetched');
    if (options.admit && !options.admit(url.host)) throw new GuardedFetchError(`too many fetches from ${url.host} just now`);

    const deadline = AbortSignal.timeout(options.timeoutMs);
    const signal = init.signal ? AbortSignal.any([deadline, init.signal]) : deadline;
    const target = await withSignal(vettedAddress(url.hostname, allowHosts.has(url.host)), signal);
    const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
      if (lookupOptions.all) callback(null, [target]);
      else callback(null, target.address, target.family);
    };
    const headers = Object.fromEntries(new Headers(init.headers));
    headers['user-agent'] = 'Latchkey';

    return new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: 'GET', headers, lookup: pinned, agent: false, ...(ca ? { ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > options.maxBytes) {
            req.destroy(new GuardedFetchError(`response larger than ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          const body = NULL_BODY.has(status) ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status: status < 200 || status > 599 ? 502 : status, headers: responseHeaders }));
        });
      });
      const abort = () => req.destroy(new GuardedFetchError(`no complete answer within ${options.timeoutMs} ms`));
      if (signal.aborted) abort();
      signal.addEventListener('abort', abort, { once: true });
      req.on('error', reject);
      req.on('close', () => signal.removeEventListener('abort', abort));
      req.end();
    });
  };
}

function withSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new GuardedFetchError('timed out'));
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new GuardedFetchError('timed out resolving the host'));
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
