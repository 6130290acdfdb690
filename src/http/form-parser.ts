import { parse } from 'node:querystring';

/** The most fields an urlencoded form may have; the largest of our forms has about a dozen. */
export const MAX_FORM_FIELDS = 100;

class TooManyFields extends Error {
  readonly statusCode = 413;
  constructor() {
    super(`a form may have at most ${MAX_FORM_FIELDS} fields`);
  }
}

/**
 * The parser of application/x-www-form-urlencoded bodies on Fastify's routes (the provider's own
 * routes parse theirs, within 56 KiB): refuses more than MAX_FORM_FIELDS fields with 413 instead
 * of building an object of thousands of keys. The result has no prototype.
 */
export function parseForm(body: string): Record<string, string | string[]> {
  let fields = body.length > 0 ? 1 : 0;
  for (let i = body.indexOf('&'); i >= 0; i = body.indexOf('&', i + 1)) {
    if (++fields > MAX_FORM_FIELDS) throw new TooManyFields();
  }
  return parse(body, '&', '=', { maxKeys: 0 }) as Record<string, string | string[]>;
}
