import type { FastifyInstance } from 'fastify';
import { BearerError, BearerTokens, bearerToken, sendBearerError } from './bearer.js';
import { allowAnyOrigin, corsPreflight } from './cors.js';

const ME_SCOPE = 'profile';

/** The protected resource of the Authlib example: GET /api/me answers {"id", "username"} for a `profile` token. */
export async function apiRoutes(app: FastifyInstance): Promise<void> {
  const bearerTokens = new BearerTokens(app.provider, app.db);
  corsPreflight(app, '/api/me');
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
      if (err instanceof BearerError) return sendBearerError(reply, app.config.issuer, err, ME_SCOPE);
      throw err;
    }
  });
}
