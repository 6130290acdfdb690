import type { IncomingMessage } from 'node:http';
import { parse } from 'node:querystring';
import busboy from 'busboy';

/** oidc-provider reads bodies of at most 56 KiB; larger ones are refused before it sees them. */
export const OAUTH_BODY_LIMIT = 56 * 1024;
/** The most fields a form to the provider may have; its largest request has about twenty. */
export const OAUTH_MAX_FIELDS = 64;
const OAUTH_MAX_FIELD_SIZE = 8 * 1024;
/** `curl -F` posts multipart/form-data; these endpoints take it as if it were urlencoded. */
const MULTIPART_PATHS = new Set(['/oauth/token', '/oauth/revoke', '/oauth/introspect']);
const METHODS_WITHOUT_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

export type FormFields = Record<string, string | string[]>;

/**
 * A provider request's body, read once: `form` for multipart bodies (parsed here, for curl -F),
 * `urlencoded` for forms (kept as bytes, which the provider parses itself; `fields()` parses them
 * once for a step that needs them), `bytes` for anything else (JSON at registration).
 */
export type ProviderBody =
  | { kind: 'none' }
  | { kind: 'form'; fields: FormFields; size: number }
  | { kind: 'urlencoded'; bytes: Buffer; fields: () => FormFields }
  | { kind: 'bytes'; bytes: Buffer };

/** The fields of a form body, whichever way it came; none for other bodies. */
export function formFields(body: ProviderBody): FormFields | undefined {
  if (body.kind === 'form') return body.fields;
  if (body.kind === 'urlencoded') return body.fields();
  return undefined;
}

/** A body refused before the provider sees it; the pipeline answers `invalid_request` with this status. */
export class BodyRefused extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly description: string,
  ) {
    super(description);
  }
}

const tooLarge = () => new BodyRefused(413, 'request body is too large');
const tooManyFields = () => new BodyRefused(413, 'too many fields');

function hasBody(req: IncomingMessage): boolean {
  if (METHODS_WITHOUT_BODY.has(req.method ?? 'GET')) return false;
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

/** Stops taking in a body: what the client still sends is discarded. */
function stopReading(req: IncomingMessage, from?: NodeJS.WritableStream): void {
  if (from) req.unpipe(from);
  req.removeAllListeners('data');
  req.resume();
}

function readBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > OAUTH_BODY_LIMIT) {
        stopReading(req);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks, received)));
    req.once('error', reject);
  });
}

function readMultipart(req: IncomingMessage): Promise<{ fields: FormFields; size: number }> {
  return new Promise((resolve, reject) => {
    const fields: FormFields = Object.create(null) as FormFields;
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { files: 0, fields: OAUTH_MAX_FIELDS, fieldSize: OAUTH_MAX_FIELD_SIZE, parts: OAUTH_MAX_FIELDS },
      });
    } catch {
      reject(new BodyRefused(400, 'malformed multipart/form-data body'));
      return;
    }
    let received = 0;
    const fail = (err: BodyRefused) => {
      stopReading(req, parser);
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > OAUTH_BODY_LIMIT) fail(tooLarge());
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated || info.nameTruncated) return fail(new BodyRefused(413, `field ${name} is too large`));
      const prior = fields[name];
      fields[name] = prior === undefined ? value : ([] as string[]).concat(prior, value);
    });
    parser.on('file', (_name, stream) => {
      stream.resume();
      fail(new BodyRefused(400, 'file uploads are not accepted here'));
    });
    parser.on('filesLimit', () => fail(new BodyRefused(400, 'file uploads are not accepted here')));
    parser.on('fieldsLimit', () => fail(tooManyFields()));
    parser.on('partsLimit', () => fail(new BodyRefused(413, 'too many parts')));
    parser.on('error', () => fail(new BodyRefused(400, 'malformed multipart/form-data body')));
    parser.on('close', () => resolve({ fields, size: received }));
    req.once('error', reject);
    req.pipe(parser);
  });
}

const AMPERSAND = 0x26;

function countFields(bytes: Buffer): number {
  let count = bytes.length > 0 ? 1 : 0;
  for (let i = bytes.indexOf(AMPERSAND); i >= 0; i = bytes.indexOf(AMPERSAND, i + 1)) count++;
  return count;
}

/** Urlencoded text as fields (the result has no prototype). */
function parseUrlencoded(text: string): FormFields {
  return parse(text, '&', '=', { maxKeys: 0 }) as FormFields;
}

function decode(bytes: Buffer, contentType: string): string {
  const charset = /;\s*charset=("?)([^";]+)\1/i.exec(contentType)?.[2] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    throw new BodyRefused(400, `unsupported charset ${charset}`);
  }
}

/**
 * The one reader of a provider request's body, bounded by OAUTH_BODY_LIMIT whether its length is
 * declared or not (chunked), and by OAUTH_MAX_FIELDS for forms. Throws BodyRefused.
 */
export async function readProviderBody(req: IncomingMessage, path: string): Promise<ProviderBody> {
  if (Number(req.headers['content-length'] ?? 0) > OAUTH_BODY_LIMIT) throw tooLarge();
  if (!hasBody(req)) return { kind: 'none' };
  const type = req.headers['content-type'] ?? '';
  if (/^multipart\/form-data/i.test(type) && req.method === 'POST' && MULTIPART_PATHS.has(path)) {
    return { kind: 'form', ...(await readMultipart(req)) };
  }
  const bytes = await readBytes(req);
  if (!/^application\/x-www-form-urlencoded/i.test(type)) return { kind: 'bytes', bytes };
  // Counted on the bytes (an '&' is one byte in every charset a form may use): no parse needed.
  if (countFields(bytes) > OAUTH_MAX_FIELDS) throw tooManyFields();
  let parsed: FormFields | undefined;
  return { kind: 'urlencoded', bytes, fields: () => (parsed ??= parseUrlencoded(decode(bytes, type))) };
}

/**
 * Hands a body already read to the provider: it takes `req.body` when the stream has been
 * consumed, provided the headers still say a body is there (a numeric Content-Length).
 */
export function handBodyToProvider(req: IncomingMessage & { body?: unknown }, body: ProviderBody): void {
  if (body.kind === 'none') return;
  if (body.kind === 'form') {
    req.body = body.fields;
    req.headers['content-type'] = 'application/x-www-form-urlencoded';
    req.headers['content-length'] = String(body.size);
  } else {
    // Bytes: the provider parses them as it would have read them (urlencoded or JSON).
    req.body = body.bytes;
    req.headers['content-length'] = String(body.bytes.length);
  }
  delete req.headers['transfer-encoding'];
}
