import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify } from 'node:querystring';
import busboy from 'busboy';

/** oidc-provider reads bodies of at most 56 KiB; larger ones are refused before it sees them. */
export const OAUTH_BODY_LIMIT = 56 * 1024;
const MULTIPART_PATHS = new Set(['/oauth/token', '/oauth/revoke', '/oauth/introspect']);

export class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
  ) {
    super(description);
  }
}

function parseMultipart(req: IncomingMessage): Promise<Record<string, string | string[]>> {
  return new Promise((resolve, reject) => {
    const fields: Record<string, string | string[]> = {};
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 0, fields: 64, fieldSize: 8 * 1024, parts: 64 } });
    } catch {
      reject(new BodyError(400, 'malformed multipart/form-data body'));
      return;
    }
    let received = 0;
    const fail = (err: BodyError) => {
      req.unpipe(parser);
      req.resume();
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > OAUTH_BODY_LIMIT) fail(new BodyError(413, 'request body is too large'));
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated || info.nameTruncated) return fail(new BodyError(413, `field ${name} is too large`));
      const prior = fields[name];
      fields[name] = prior === undefined ? value : ([] as string[]).concat(prior, value);
    });
    parser.on('file', (_name, stream) => {
      stream.resume();
      fail(new BodyError(400, 'file uploads are not accepted here'));
    });
    parser.on('filesLimit', () => fail(new BodyError(400, 'file uploads are not accepted here')));
    parser.on('fieldsLimit', () => fail(new BodyError(413, 'too many fields')));
    parser.on('partsLimit', () => fail(new BodyError(413, 'too many parts')));
    parser.on('error', () => fail(new BodyError(400, 'malformed multipart/form-data body')));
    parser.on('close', () => resolve(fields));
    req.pipe(parser);
  });
}

/**
 * The seeds post with `curl -F` (multipart/form-data); oidc-provider reads only urlencoded
 * bodies. This hands it the same fields, already parsed, as an urlencoded request.
 * Returns false when it has answered the request itself (an error).
 */
export async function prepareOAuthBody(req: IncomingMessage & { body?: unknown }, res: ServerResponse, path: string): Promise<boolean> {
  const length = Number(req.headers['content-length'] ?? 0);
  try {
    if (length > OAUTH_BODY_LIMIT) throw new BodyError(413, 'request body is too large');
    const type = req.headers['content-type'] ?? '';
    if (req.method !== 'POST' || !MULTIPART_PATHS.has(path) || !/^multipart\/form-data/i.test(type)) return true;
    const fields = await parseMultipart(req);
    const encoded = stringify(fields);
    req.body = fields;
    req.headers['content-type'] = 'application/x-www-form-urlencoded';
    req.headers['content-length'] = String(Buffer.byteLength(encoded));
    delete req.headers['transfer-encoding'];
    return true;
  } catch (err) {
    if (!(err instanceof BodyError)) throw err;
    res.statusCode = err.status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    if (err.status === 413) res.setHeader('connection', 'close');
    res.end(JSON.stringify({ error: 'invalid_request', error_description: err.description }));
    return false;
  }
}
