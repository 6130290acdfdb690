import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAUTH_BODY_LIMIT } from '../oidc/multipart-body.js';
import type { ProviderGuard } from '../oidc/mount.js';

class TooLarge extends Error {}

async function readBounded(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > limit) throw new TooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, received);
}

function tooLarge(res: ServerResponse): false {
  res.statusCode = 413;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('connection', 'close');
  res.end(JSON.stringify({ error: 'invalid_request', error_description: 'request body is too large' }));
  return false;
}

/**
 * The provider's body limit (56 KiB) for bodies sent without a Content-Length (chunked): such a
 * body is read here, bounded, and handed on as bytes (the provider parses them as usual); one
 * over the limit gets 413 like a declared one does (multipart-body.ts), not the provider's 400.
 */
export const chunkedBodyLimit: ProviderGuard = async (req, res) => {
  if (req.method !== 'POST' || req.body !== undefined) return true;
  if (req.headers['content-length'] !== undefined || !req.headers['transfer-encoding']) return true;
  try {
    const body = await readBounded(req, OAUTH_BODY_LIMIT);
    req.body = body;
    req.headers['content-length'] = String(body.length);
    delete req.headers['transfer-encoding'];
    return true;
  } catch (err) {
    if (err instanceof TooLarge) return tooLarge(res);
    throw err;
  }
};
