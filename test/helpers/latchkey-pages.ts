import { createHash, randomBytes } from 'node:crypto';
import type { Locator, Page } from 'playwright-core';

/**
 * Latchkey's browser pages, driven only through the labels README.md names ("The browser
 * pages"): what a person (or a screen reader) finds on them.
 */

export const GRANT_TYPES = ['authorization_code', 'implicit', 'password', 'client_credentials', 'refresh_token'] as const;

export interface ClientForm {
  name: string;
  uri?: string;
  redirectUris: string[];
  grantTypes: (typeof GRANT_TYPES)[number][];
  responseTypes: string[];
  scope: string;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
}

export interface CreatedClient {
  clientId: string;
  clientSecret?: string;
}

/** The form that holds the button with this name. */
export function formWith(page: Page, button: string): Locator {
  return page.locator('form').filter({ has: page.getByRole('button', { name: button, exact: true }) });
}

export async function createAccount(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  const form = formWith(page, 'Create account');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Create account', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Fills the Sign in form of the current page. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  const form = formWith(page, 'Sign in');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await formWith(page, 'Sign in').waitFor();
}

/** Fills "Create client" on the signed-in home page; returns what the result page shows. */
export async function createClient(page: Page, baseUrl: string, client: ClientForm): Promise<CreatedClient> {
  await page.goto(`${baseUrl}/`);
  await fillClientForm(page, client);
  await page.getByRole('button', { name: 'Create client', exact: true }).click();
  const created = page.getByRole('heading', { name: 'Client Info' });
  const refused = page.getByRole('alert');
  await created.or(refused).first().waitFor();
  if (!(await created.isVisible())) throw new Error(`the client was refused: ${await refused.first().innerText()}`);
  return readClientInfo(page);
}

export async function fillClientForm(page: Page, client: ClientForm): Promise<void> {
  await page.getByLabel('Client name').fill(client.name);
  await page.getByLabel('Client URI').fill(client.uri ?? '');
  await page.getByLabel('Redirect URIs', { exact: true }).fill(client.redirectUris.join('\n'));
  for (const grant of GRANT_TYPES) {
    await page.getByLabel(grant, { exact: true }).setChecked(client.grantTypes.includes(grant));
  }
  await page.getByLabel('Response types').fill(client.responseTypes.join('\n'));
  await page.getByLabel('Scope').fill(client.scope);
  await page.getByLabel('Token endpoint auth method').selectOption(client.authMethod);
}

/** client_id and client_secret as the result page's "Client Info" shows them. */
export async function readClientInfo(page: Page): Promise<CreatedClient> {
  const text = await page.locator('main').innerText();
  const clientId = /client_id\s+(\S{24,})/.exec(text)?.[1];
  if (!clientId) throw new Error(`no client_id on the page:\n${text}`);
  const clientSecret = /client_secret\s+([A-Za-z0-9_-]{48,})/.exec(text)?.[1];
  return { clientId, ...(clientSecret ? { clientSecret } : {}) };
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(baseUrl: string, params: Record<string, string>): string {
  return `${baseUrl}/oauth/authorize?${new URLSearchParams(params)}`;
}

/** The login prompt of an authorization for someone already signed in to the console. */
export async function continueAsSignedIn(page: Page, username: string): Promise<void> {
  await page.getByRole('button', { name: `Continue as ${username}` }).click();
}

export async function consent(page: Page, answer: 'Allow' | 'Deny'): Promise<void> {
  await page.getByRole('button', { name: answer, exact: true }).click();
}

/** Waits until the browser is at the redirect URI (query or fragment) and returns that URL. */
export async function landedAt(page: Page, redirectUri: string): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(redirectUri));
  return new URL(page.url());
}
