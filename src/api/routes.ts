import type { FastifyInstance } from 'fastify';
import { API_RESOURCE_METADATA_PATH, API_SCOPES } from '../endpoints.js';
import { BearerError, BearerTokens, bearerToken, sendBearerError } from './bearer.js';
import { allowAnyOrigin, corsPreflight } from './cors.js';

const [ME_SCOPE] = API_SCOPES;

/**
 * The protected resource of the Authlib example: GET /api/me answers {"id", "username"} for a
 * `profile` token (opaque, or a JWT asked for with resource=ISSUER/api). Its RFC 9728 metadata
 * tells a client where to get one.
 */
export async function apiRoutes(app: FastifyInstance): Promise<void> {
  const api = app.resources.api;
  const metadataUrl = `${app.config.issuer}${API_RESOURCE_METADATA_PATH}`;
  const bearerTokens = new BearerTokens(app.provider, app.db, api.uri);
  corsPreflight(app, '/api/me');
  corsPreflight(app, API_RESOURCE_METADATA_PATH);
  app.get(API_RESOURCE_METADATA_PATH, async (_request, reply) =>
    allowAnyOrigin(reply)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Cache-Control', 'public, max-age=300')
      .send({
        resource: api.uri,
        authorization_servers: [app.config.issuer],
        scopes_supported: api.scopes,
        bearer_methods_supported: ['header'],
        resource_name: api.name,
      }),
  );
  app.get('/api/me', async (request, reply) => {
    // The API is not a page: no cookie, no CSP; a JSON answer that must not be sniffed or cached.
    allowAnyOrigin(reply).header('X-Content-Type-Options', 'nosniff');
    try {
      const token = await bearerTokens.verify(bearerToken(request));
      if (!token.scopes.has(ME_SCOPE)) throw new BearerError(403, 'insufficient_scope', `the access token lacks the ${ME_SCOPE} scope`);
      const id = Number(token.accountId);
      const account = app.accounts.cachedById(id) ?? (await app.accounts.findById(id));
      if (!account) throw new BearerError(401, 'invalid_token', 'the account of this access token no longer exists');
      return reply.header('Cache-Control', 'no-store').send({ id: account.id, username: account.username });
    } catch (err) {
      if (err instanceof BearerError) return sendBearerError(reply, app.config.issuer, err, ME_SCOPE, metadataUrl);
      throw err;
    }
  });
}
