import { CookieJar } from './cookie-jar.js';

/**
 * The little of a browser that a test of Latchkey's pages needs, over plain fetch: cookies kept,
 * redirects followed by hand (only within the server: a redirect elsewhere, such as to a
 * client's redirect_uri, is reported and never requested), and forms found by their button and
 * filled by their labels, with their hidden fields (the CSRF token) sent as a browser would.
 */

export interface Page {
  url: URL;
  status: number;
  headers: Headers;
  html: string;
  /** Set when the last redirect left the server (e.g. to a client's redirect_uri). */
  leftTo?: URL;
}

export interface SubmitOptions {
  /** Form fields dropped before sending (e.g. '_csrf'). */
  without?: string[];
  /** The Origin header to send (default: the page's origin, as a browser would). null sends none. */
  origin?: string | null;
  /** Raw fields to add or replace after the form is filled. */
  extra?: Record<string, string>;
}

type FieldValue = string | boolean;

interface Control {
  tag: 'input' | 'textarea' | 'select';
  attrs: Record<string, string>;
  /** Textarea text, or the select's selected value. */
  value: string;
  options?: string[];
}

export function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)(?:\s*=\s*"([^"]*)")?/g)) {
    const name = m[1]!.toLowerCase();
    if (!(name in attrs)) attrs[name] = decodeEntities(m[2] ?? '');
  }
  return attrs;
}

const textOf = (html: string) =>
  decodeEntities(html.replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();

/** The forms of a page, each as its opening tag's attributes and its inner HTML. */
export function forms(html: string): { attrs: Record<string, string>; body: string }[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map((m) => ({ attrs: attributes(m[1]!), body: m[2]! }));
}

export function buttons(formBody: string): { text: string; attrs: Record<string, string> }[] {
  return [...formBody.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((m) => ({ attrs: attributes(m[1]!), text: textOf(m[2]!) }));
}

/** The form holding a button whose text is exactly `button`. */
export function formWithButton(html: string, button: string) {
  const found = forms(html).filter((f) => buttons(f.body).some((b) => b.text === button));
  if (found.length !== 1) throw new Error(`expected one form with a "${button}" button, found ${found.length}`);
  return found[0]!;
}

function controls(formBody: string): Control[] {
  const found: { index: number; control: Control }[] = [];
  for (const m of formBody.matchAll(/<input\b([^>]*)>/gi)) {
    const attrs = attributes(m[1]!);
    found.push({ index: m.index!, control: { tag: 'input', attrs, value: attrs.value ?? '' } });
  }
  for (const m of formBody.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/gi)) {
    found.push({
      index: m.index!,
      control: { tag: 'textarea', attrs: attributes(m[1]!), value: decodeEntities(m[2]!).replace(/^\n/, '') },
    });
  }
  for (const m of formBody.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/gi)) {
    const options = [...m[2]!.matchAll(/<option\b([^>]*)>/gi)].map((o) => attributes(o[1]!));
    const selected = options.find((o) => 'selected' in o) ?? options[0];
    found.push({
      index: m.index!,
      control: { tag: 'select', attrs: attributes(m[1]!), value: selected?.value ?? '', options: options.map((o) => o.value ?? '') },
    });
  }
  return found.sort((a, b) => a.index - b.index).map((f) => f.control);
}

/** label text -> the id it is for. */
function labels(formBody: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of formBody.matchAll(/<label\b([^>]*)>([\s\S]*?)<\/label>/gi)) {
    const target = attributes(m[1]!).for;
    if (target) map.set(textOf(m[2]!), target);
  }
  return map;
}

/** The urlencoded fields a browser would send for this form, after filling `fields` (by label). */
export function fillForm(formBody: string, fields: Record<string, FieldValue>, button: string): URLSearchParams {
  const all = controls(formBody);
  const byLabel = labels(formBody);
  for (const [label, value] of Object.entries(fields)) {
    const id = byLabel.get(label);
    const control = id && all.find((c) => c.attrs.id === id);
    if (!control) throw new Error(`no field labelled "${label}"`);
    if (control.attrs.type === 'checkbox') {
      if (value) control.attrs.checked = '';
      else delete control.attrs.checked;
    } else {
      if (typeof value !== 'string') throw new Error(`field "${label}" takes text`);
      if (control.options && !control.options.includes(value)) throw new Error(`"${label}" has no option "${value}"`);
      control.value = value;
    }
  }
  const body = new URLSearchParams();
  for (const control of all) {
    const name = control.attrs.name;
    if (!name) continue;
    const type = control.attrs.type ?? 'text';
    if ((type === 'checkbox' || type === 'radio') && !('checked' in control.attrs)) continue;
    body.append(name, type === 'checkbox' && control.attrs.value === undefined ? 'on' : control.value);
  }
  const clicked = buttons(formBody).find((b) => b.text === button);
  if (clicked?.attrs.name) body.append(clicked.attrs.name, clicked.attrs.value ?? '');
  return body;
}

export class BrowserSession {
  readonly jar = new CookieJar();
  readonly origin: string;

  constructor(baseUrl: string) {
    this.origin = new URL(baseUrl).origin;
  }

  /** Reads a response, following redirects within the server (at most 10). */
  async follow(response: Response, url: URL): Promise<Page> {
    for (let hops = 0; hops < 10; hops++) {
      if (response.status < 300 || response.status >= 400) break;
      const next = new URL(response.headers.get('location') ?? '', url);
      if (next.origin !== this.origin) {
        await response.body?.cancel();
        return { url, status: response.status, headers: response.headers, html: '', leftTo: next };
      }
      await response.body?.cancel();
      url = next;
      response = await this.jar.fetch(url, { headers: { accept: 'text/html' } });
    }
    return { url, status: response.status, headers: response.headers, html: await response.text() };
  }

  async get(pathOrUrl: string | URL): Promise<Page> {
    const url = new URL(pathOrUrl, this.origin);
    return this.follow(await this.jar.fetch(url, { headers: { accept: 'text/html' } }), url);
  }

  /** POSTs raw fields (no form needed), as a page of this server would. */
  async post(pathOrUrl: string | URL, fields: Record<string, string>, options: Pick<SubmitOptions, 'origin'> = {}): Promise<Page> {
    const url = new URL(pathOrUrl, this.origin);
    const headers: Record<string, string> = { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' };
    const origin = options.origin === undefined ? this.origin : options.origin;
    if (origin !== null) headers.origin = origin;
    const response = await this.jar.fetch(url, { method: 'POST', headers, body: new URLSearchParams(fields).toString() });
    return this.follow(response, url);
  }

  /** Fills the form of `page` that has the button `button` (fields by label) and submits it. */
  async submit(page: Page, button: string, fields: Record<string, FieldValue> = {}, options: SubmitOptions = {}): Promise<Page> {
    const form = formWithButton(page.html, button);
    const body = fillForm(form.body, fields, button);
    for (const name of options.without ?? []) body.delete(name);
    for (const [name, value] of Object.entries(options.extra ?? {})) body.set(name, value);
    const action = new URL(form.attrs.action ?? page.url.href, page.url);
    const headers: Record<string, string> = { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' };
    const origin = options.origin === undefined ? page.url.origin : options.origin;
    if (origin !== null) headers.origin = origin;
    const response = await this.jar.fetch(action, { method: (form.attrs.method ?? 'get').toUpperCase(), headers, body: body.toString() });
    return this.follow(response, action);
  }

  /** The CSRF token of the page's first form. */
  csrf(page: Page): string {
    const token = /name="_csrf" value="([^"]*)"/.exec(page.html)?.[1];
    if (!token) throw new Error('no CSRF token on the page');
    return decodeEntities(token);
  }

  hasButton(page: Page, text: string): boolean {
    return forms(page.html).some((f) => buttons(f.body).some((b) => b.text === text));
  }
}

/** The visible text of a page's <main>, tags stripped (for assertions on what a person reads). */
export function mainText(page: Page): string {
  const main = /<main>([\s\S]*?)<\/main>/i.exec(page.html)?.[1] ?? page.html;
  return textOf(main);
}
