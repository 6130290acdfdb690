import { basic, connection, FORM, form, send } from './load/http.js';
import type { Credentials } from './targets.js';

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
}

/** A token endpoint call with client_secret_basic; throws unless it answers 200 with a token. */
export async function tokenRequest(baseUrl: string, client: Credentials, fields: Record<string, string>): Promise<TokenSet> {
  const agent = connection();
  try {
    const res = await send(agent, `${baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': FORM },
      body: form(fields),
    });
    if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${res.body}`);
    return JSON.parse(res.body) as TokenSet;
  } finally {
    agent.destroy();
  }
}

export const passwordGrant = (baseUrl: string, client: Credentials, user: { username: string; password: string }) =>
  tokenRequest(baseUrl, client, { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' });

/** `count` password grants, a few at a time: each starts a refresh chain of its own. */
export async function refreshTokens(baseUrl: string, client: Credentials, user: { username: string; password: string }, count: number) {
  const tokens: string[] = [];
  const worker = async () => {
    while (tokens.length < count) {
      const set = await passwordGrant(baseUrl, client, user);
      if (!set.refresh_token) throw new Error('the password grant gave no refresh token');
      tokens.push(set.refresh_token);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return tokens.slice(0, count);
}
