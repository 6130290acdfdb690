import { createHash, randomBytes } from 'node:crypto';
import { BrowserSession, type Page } from './browser-session.js';

export interface Person {
  username: string;
  password: string;
}

export interface Approval {
  /** The button to press at the consent prompt; when given, a consent prompt must come (default: Allow if asked). */
  consent?: 'Allow' | 'Deny';
}

/**
 * Follows an authorization request as a person would in a browser without JavaScript: the
 * login page (Username, Password, "Sign in") when asked, then the consent page ("Allow" or
 * "Deny") when asked. Returns the page where it stopped; `leftTo` is where the browser was sent
 * back to the client (with its code, its fragment, or its error).
 */
export async function signInAndConsent(
  browser: BrowserSession,
  start: string | URL | Page,
  person: Person,
  approval: Approval = {},
): Promise<Page> {
  let page = typeof start === 'string' || start instanceof URL ? await browser.get(start) : start;
  if (!page.leftTo && browser.hasButton(page, 'Sign in')) {
    page = await browser.submit(page, 'Sign in', { Username: person.username, Password: person.password });
  }
  if (!page.leftTo && browser.hasButton(page, 'Allow')) {
    page = await browser.submit(page, approval.consent ?? 'Allow');
  } else if (approval.consent) {
    throw new Error(`expected a consent page to press ${approval.consent} on, got ${page.leftTo?.href ?? page.url.href}`);
  }
  return page;
}

/** Where the browser was sent back to the client; throws when it stayed on the server. */
export function returned(page: Page): URL {
  if (!page.leftTo) throw new Error(`expected a redirect to the client, stayed at ${page.url.href} (${page.status})`);
  return page.leftTo;
}

/** A PKCE pair (RFC 7636, S256). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const authorizeUrl = (base: string, params: Record<string, string>) => `${base}/oauth/authorize?${new URLSearchParams(params)}`;

/** The Authlib example's authorization code flow, as far as the code: sign in, allow, read the code. */
export async function codeFor(
  base: string,
  person: Person,
  params: Record<string, string>,
  browser = new BrowserSession(base),
): Promise<string> {
  const back = returned(await signInAndConsent(browser, authorizeUrl(base, { response_type: 'code', ...params }), person));
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in ${back.href}`);
  return code;
}
