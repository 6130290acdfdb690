import { basic, json, type Json } from './http.js';

export interface TokenCall {
  status: number;
  headers: Headers;
  body: Json;
}

/** How a request carries its fields: multipart (curl -F, as the Authlib example posts) or urlencoded (most clients). */
export type Encoding = 'multipart' | 'urlencoded';

export interface PostOptions {
  /** client_secret_basic credentials. */
  basicAuth?: { id: string; secret: string | undefined };
  encoding?: Encoding;
}

function encode(fields: Record<string, string>, encoding: Encoding): FormData | URLSearchParams {
  if (encoding === 'urlencoded') return new URLSearchParams(fields);
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

/** POSTs fields to an OAuth endpoint (token, revoke, introspect) and reads the JSON answer. */
export async function post(url: string, fields: Record<string, string>, options: PostOptions = {}): Promise<TokenCall> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.basicAuth) headers.authorization = basic(options.basicAuth.id, options.basicAuth.secret ?? '');
  const res = await fetch(url, { method: 'POST', headers, body: encode(fields, options.encoding ?? 'multipart') });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export interface Client {
  clientId: string;
  clientSecret: string | undefined;
}

/** The token endpoint with client_secret_basic, as the Authlib example calls it (curl -u id:secret -F ...). */
export function token(baseUrl: string, client: Client, fields: Record<string, string>, encoding: Encoding = 'multipart') {
  return post(`${baseUrl}/oauth/token`, fields, { basicAuth: { id: client.clientId, secret: client.clientSecret }, encoding });
}

export async function passwordGrant(baseUrl: string, client: Client, username: string, password: string, scope = 'profile') {
  return token(baseUrl, client, { grant_type: 'password', username, password, ...(scope ? { scope } : {}) });
}

/** GET /api/me with a bearer token. */
export async function apiMe(baseUrl: string, accessToken: string | undefined, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (accessToken !== undefined) headers.set('authorization', `Bearer ${accessToken}`);
  const res = await fetch(`${baseUrl}/api/me`, { ...init, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Json, text };
}

export async function discovery(baseUrl: string): Promise<Json> {
  return json(fetch(`${baseUrl}/.well-known/openid-configuration`));
}
