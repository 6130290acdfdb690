import { BrowserSession } from './browser-session.js';
import { basic } from './http.js';

/** A password check as a client or a browser makes it, from `ip` (honoured with TRUST_PROXY). */

export interface Attempt {
  status: number;
  retryAfter: string | null;
  body: string;
}

export type Client = { clientId: string; clientSecret: string | undefined };

export async function passwordGrant(url: string, client: Client, username: string, password: string, ip?: string): Promise<Attempt> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: basic(client.clientId, client.clientSecret ?? ''),
      'content-type': 'application/x-www-form-urlencoded',
      ...(ip ? { 'x-forwarded-for': ip } : {}),
    },
    body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'profile' }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

/** The home page's Sign in form, as a browser (with its CSRF token and cookie) from `ip`. */
export async function signInForm(url: string, username: string, password: string, ip?: string): Promise<Attempt> {
  const browser = new BrowserSession(url);
  const home = await browser.get('/');
  const res = await browser.jar.fetch(new URL('/signin', url), {
    method: 'POST',
    headers: {
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
      origin: new URL(url).origin,
      ...(ip ? { 'x-forwarded-for': ip } : {}),
    },
    body: new URLSearchParams({ _csrf: browser.csrf(home), username, password }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}
