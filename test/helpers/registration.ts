import type { Json } from './http.js';

/** RFC 7591: registers a client_credentials client with an initial access token. */
export async function registerMachineClient(url: string, initialAccessToken: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}/oauth/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${initialAccessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'registered',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}
