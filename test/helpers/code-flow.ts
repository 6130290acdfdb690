import { randomBytes } from 'node:crypto';
import type { Page } from './browser-session.js';
import { basic, json, type Json } from './http.js';

/** A redirect URI that is never requested: tests read the code from the redirect itself. */
export const REDIRECT_URI = 'https://client.example/callback';

export function authorizePath(clientId: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile',
    state: randomBytes(8).toString('hex'),
    ...params,
  });
  return `/oauth/authorize?${query}`;
}

/** Where the browser was sent back to the client, with the query it carried. */
export function landing(page: Page): { url: URL; params: URLSearchParams } {
  if (!page.leftTo) throw new Error(`expected a redirect to the client, got ${page.status} at ${page.url.href}`);
  return { url: page.leftTo, params: page.leftTo.searchParams };
}

export async function exchangeCode(baseUrl: string, client: { clientId: string; clientSecret: string | undefined }, code: string) {
  const res = await fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(client.clientId, client.clientSecret ?? ''), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
  });
  return { status: res.status, body: (await json(res)) as Json };
}
