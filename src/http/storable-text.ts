/** NUL, and UTF-16 surrogates without their pair: PostgreSQL stores neither in text nor in jsonb. */
// eslint-disable-next-line no-control-regex -- NUL is what is looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorable(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** Whether any string in a value (form fields, parsed JSON: values and keys alike) cannot be stored. */
export function hasUnstorableText(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return !isStorable(value);
  if (!value || typeof value !== 'object' || depth > 32) return false;
  if (Array.isArray(value)) return value.some((item) => hasUnstorableText(item, depth + 1));
  return Object.entries(value).some(([key, item]) => !isStorable(key) || hasUnstorableText(item, depth + 1));
}
