import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ClientInput } from '../../src/oidc/client-metadata.js';
import type { IssuedClient } from '../../src/clients/store.js';

export const PASSWORD = 'correct horse battery staple';

export function uniqueName(prefix = 'user'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function createUser(app: FastifyInstance, username = uniqueName(), password = PASSWORD) {
  const account = await app.accounts.create(username, password);
  return { ...account, password };
}

/** The Authlib example's client, with overrides. */
export async function createClient(app: FastifyInstance, overrides: Partial<ClientInput> = {}, ownerId?: number): Promise<IssuedClient> {
  return app.clients.create(
    {
      client_name: 'test',
      client_uri: 'https://authlib.org/',
      redirect_uris: ['https://authlib.org/'],
      grant_types: ['authorization_code', 'password', 'refresh_token'],
      response_types: ['code'],
      scope: 'profile',
      token_endpoint_auth_method: 'client_secret_basic',
      ...overrides,
    },
    ownerId,
  );
}
