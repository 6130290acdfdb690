// The protocol ceiling: oidc-provider 9 on its own (its own http server, its default in-memory
// adapter), configured like Latchkey's provider for the endpoints the bench compares.
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';
import { ROUTES, SCOPES } from '../../../src/endpoints.js';

export interface ReferenceOptions {
  port: number;
  client: ClientMetadata;
  accessTokenTtl: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ReferenceOptions;

async function signingKey(alg: 'RS256' | 'ES256') {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return { ...(await exportJWK(privateKey)), kid: `${alg.toLowerCase()}-${randomUUID()}`, alg, use: 'sig' };
}

const configuration: Configuration = {
  clients: [options.client],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email', 'email_verified'] },
  scopes: [...SCOPES],
  routes: ROUTES,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  jwks: { keys: [await signingKey('RS256'), await signingKey('ES256')] } as Configuration['jwks'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
  },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
  ttl: { AccessToken: options.accessTokenTtl, ClientCredentials: options.accessTokenTtl },
};

const provider = new Provider(`http://127.0.0.1:${options.port}`, configuration);
const server = provider.listen(options.port, '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
