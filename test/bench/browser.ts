import type { Agent } from 'node:http';
import { Cookies, FORM, form, send, type HttpResponse } from './load/http.js';

/** The little of HTML a sign-in and consent walk needs: forms, their fields and buttons. */
interface HtmlForm {
  action: string;
  method: string;
  fields: Map<string, string>;
  inputs: { name: string; type: string }[];
  buttons: { name: string | undefined; value: string; text: string }[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') return String.fromCodePoint(ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return match ? decode(match[2] ?? match[3] ?? match[4] ?? '') : undefined;
}

function forms(html: string): HtmlForm[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, tag = '', body = '']) => {
    const fields = new Map<string, string>();
    const inputs: HtmlForm['inputs'] = [];
    for (const [input] of body.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      if (!name) continue;
      const type = (attribute(input, 'type') ?? 'text').toLowerCase();
      inputs.push({ name, type });
      if (type === 'hidden' || attribute(input, 'value') !== undefined) fields.set(name, attribute(input, 'value') ?? '');
    }
    const buttons = [...body.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map(([, attrs = '', text = '']) => ({
      name: attribute(` ${attrs}`, 'name'),
      value: attribute(` ${attrs}`, 'value') ?? '',
      text: decode(text.replace(/<[^>]+>/g, '')).trim(),
    }));
    return {
      action: attribute(` ${tag}`, 'action') ?? '',
      method: (attribute(` ${tag}`, 'method') ?? 'get').toLowerCase(),
      fields,
      inputs,
      buttons,
    };
  });
}

/** One user agent: its connection and its cookies. Redirects are followed by the caller. */
export class Browser {
  readonly cookies = new Cookies();

  constructor(
    readonly agent: Agent,
    readonly origin: string,
  ) {}

  async get(url: string): Promise<HttpResponse> {
    const res = await send(this.agent, new URL(url, this.origin).toString(), {
      headers: { cookie: this.cookies.header(), accept: 'text/html' },
    });
    this.cookies.store(res);
    return res;
  }

  async post(url: string, fields: Record<string, string>): Promise<HttpResponse> {
    const res = await send(this.agent, new URL(url, this.origin).toString(), {
      method: 'POST',
      headers: { cookie: this.cookies.header(), 'content-type': FORM, origin: this.origin, accept: 'text/html' },
      body: form(fields),
    });
    this.cookies.store(res);
    return res;
  }
}

const location = (res: HttpResponse) => {
  const value = res.headers.location;
  return typeof value === 'string' ? value : undefined;
};

/**
 * Walks from an authorization request to the redirect back to the client, as a person would:
 * signs in on the sign-in form (the one with a password field), presses Allow on the consent
 * form. Returns the URL the browser is finally sent to (the client's redirect URI).
 */
export async function signInAndConsent(
  browser: Browser,
  authorizeUrl: string,
  redirectUri: string,
  user: { username: string; password: string },
) {
  let res = await browser.get(authorizeUrl);
  for (let hop = 0; hop < 20; hop++) {
    const next = location(res);
    if (next?.startsWith(redirectUri)) return next;
    if (next) {
      res = await browser.get(next);
      continue;
    }
    if (res.status !== 200) throw new Error(`unexpected ${res.status} during sign-in: ${res.body.slice(0, 300)}`);
    const page = forms(res.body).filter((f) => f.method === 'post');
    const signIn = page.find((f) => f.inputs.some((i) => i.type === 'password') && /sign in/i.test(f.buttons.map((b) => b.text).join(' ')));
    const consent = page.find((f) => f.buttons.some((b) => b.text === 'Allow'));
    if (signIn) {
      const fields = Object.fromEntries(signIn.fields);
      for (const input of signIn.inputs) {
        if (input.type === 'password') fields[input.name] = user.password;
        else if (input.type === 'text' || input.type === 'email') fields[input.name] = user.username;
      }
      res = await browser.post(signIn.action, fields);
    } else if (consent) {
      const allow = consent.buttons.find((b) => b.text === 'Allow')!;
      res = await browser.post(consent.action, {
        ...Object.fromEntries(consent.fields),
        ...(allow.name ? { [allow.name]: allow.value } : {}),
      });
    } else {
      throw new Error(`no sign-in or consent form on the page: ${res.body.slice(0, 300)}`);
    }
  }
  throw new Error('too many redirects during sign-in');
}
