/** Reading urlencoded form bodies, where any field may be missing, repeated or not a string. */

type Body = Record<string, unknown> | null | undefined;

/** One text field: '' when missing; the first value when repeated. */
export function textField(body: unknown, name: string): string {
  const value = (body as Body)?.[name];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return '';
}

/** Every value of a repeated field (checkboxes). */
export function listField(body: unknown, name: string): string[] {
  const value = (body as Body)?.[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** A textarea of one item per line, blank lines dropped. */
export function linesField(body: unknown, name: string): string[] {
  return textField(body, name)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}
