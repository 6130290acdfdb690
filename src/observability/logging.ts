import { randomUUID } from 'node:crypto';
import type { FastifyServerOptions } from 'fastify';
import { stdSerializers } from 'pino';
import type { Config } from '../config.js';

const CENSOR = '[REDACTED]';

/**
 * The names under which a credential or a signed token travels, as request parameters or as
 * fields of a logged object: secrets and passwords; codes, verifiers and tokens; token hints
 * (id_token_hint, login_hint_token); request objects and their references (request,
 * request_uri); assertions (client authentication, JWT bearer grants, token exchange's
 * subject_token and actor_token); logout tokens; initial and registration access tokens; DPoP
 * proofs, authorization and cookie headers; the forms' secrets (xsrf, _csrf); and state and
 * nonce, which bind a response to its request. Identifiers and plain hints (client_id,
 * login_hint, logout_hint, scope, redirect_uri) are no secret and stay readable.
 */
const SECRET_NAMES = new Set([
  'password',
  'client_secret',
  'code',
  'code_verifier',
  'user_code',
  'device_code',
  'auth_req_id',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'id_token_hint',
  'login_hint_token',
  'logout_token',
  'request',
  'request_uri',
  'client_assertion',
  'assertion',
  'subject_token',
  'actor_token',
  'initial_access_token',
  'registration_access_token',
  'dpop',
  'authorization',
  'cookie',
  'set-cookie',
  'xsrf',
  '_csrf',
  'state',
  'nonce',
]);

const isSecretName = (name: string) => SECRET_NAMES.has(name.toLowerCase());

/** A JWT (signed, unsecured or encrypted), whatever carries it: its header always starts `{"`. */
const JWT = /eyJ[\w-]+\.[\w-]*\.[\w-]*(?:\.[\w-]*\.[\w-]*)?/g;
/** `name=value` of a secret parameter inside some text (a URL in a message, a query in a value). */
const SECRET_PAIR = new RegExp(`(^|[?&#;])(${[...SECRET_NAMES].join('|')})=[^&#\\s"'<>]*`, 'gi');

/** Text as logged: JWTs and the values of secret parameters in it replaced. */
export function redactText(text: string): string {
  if (!text.includes('eyJ') && !text.includes('=')) return text;
  return text.replace(JWT, CENSOR).replace(SECRET_PAIR, `$1$2=${CENSOR}`);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}

/** A query string or fragment (without its `?` or `#`) with the values of secret parameters replaced. */
function redactParams(params: string): string {
  return params
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return redactText(pair);
      const name = pair.slice(0, eq);
      if (isSecretName(decode(name))) return `${name}=${CENSOR}`;
      const value = decode(pair.slice(eq + 1));
      const redacted = redactText(value);
      return redacted === value ? pair : `${name}=${encodeURIComponent(redacted)}`;
    })
    .join('&');
}

/** The URL as logged: values of parameters that may carry secrets, and any JWT in it, are replaced. */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const q = beforeHash.indexOf('?');
  const path = q < 0 ? beforeHash : beforeHash.slice(0, q);
  let out = path.replace(JWT, CENSOR);
  if (q >= 0) out += `?${redactParams(beforeHash.slice(q + 1))}`;
  if (hash >= 0) out += `#${redactParams(url.slice(hash + 1))}`;
  return out;
}

const MAX_DEPTH = 8;

/**
 * A logged value with every credential in it replaced: strings under a secret name (at any
 * depth, the top level included), and JWTs and secret parameters inside any string. Objects are
 * walked as JSON would write them (toJSON first); what holds nothing to replace is returned as it
 * is, so a line without secrets costs no copy.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const json: unknown = toJSON.call(value);
    return json === value ? value : redactValue(json, depth + 1);
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const redacted = redactValue(item, depth + 1);
      if (redacted !== item) (copy ??= [...value])[i] = redacted;
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const redacted = isSecretName(key) && secretShaped(item) ? CENSOR : redactValue(item, depth + 1);
    if (redacted !== item) (copy ??= { ...value })[key] = redacted;
  }
  return copy ?? value;
}

/** What a credential can be: a string, or a list of them (Set-Cookie). */
const secretShaped = (value: unknown) => typeof value === 'string' || (Array.isArray(value) && value.some((v) => typeof v === 'string'));

/** Keys whose values the serializers below make (and redact) themselves. */
const SERIALIZED = new Set(['req', 'res', 'err']);

export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      censor: CENSOR,
    },
    formatters: {
      // Every logged object, before the serializers: the fields of a line, wherever they come from.
      log(object: Record<string, unknown>) {
        let copy: Record<string, unknown> | undefined;
        for (const [key, item] of Object.entries(object)) {
          if (SERIALIZED.has(key)) continue;
          const redacted = isSecretName(key) && secretShaped(item) ? CENSOR : redactValue(item);
          if (redacted !== item) (copy ??= { ...object })[key] = redacted;
        }
        return copy ?? object;
      },
    },
    serializers: {
      req: (req: { id: string; method: string; url: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        ip: req.ip,
      }),
      err: (err: Error) => redactValue(stdSerializers.err(err)) as ReturnType<typeof stdSerializers.err>,
      // Messages too: Fastify's own put URLs in them ("Route GET:/... not found").
      msg: (msg: unknown) => (typeof msg === 'string' ? redactText(msg) : msg),
    },
  };
}

export function requestIdOptions(): Pick<FastifyServerOptions, 'genReqId' | 'requestIdHeader'> {
  return { genReqId: () => randomUUID(), requestIdHeader: false };
}
