import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Browser apps (the implicit and PKCE clients) call the API from their own origin. The API
 * reads only the Authorization header, never a cookie, so any origin may call it: nothing
 * ambient is ever sent along (no Access-Control-Allow-Credentials).
 */
export function allowAnyOrigin(reply: FastifyReply): FastifyReply {
  return reply.header('Access-Control-Allow-Origin', '*').header('Access-Control-Expose-Headers', 'WWW-Authenticate');
}

/** Answers the CORS preflight of a GET that carries an Authorization header. */
export function corsPreflight(app: FastifyInstance, path: string): void {
  app.options(path, async (_request, reply) =>
    allowAnyOrigin(reply)
      .header('Access-Control-Allow-Methods', 'GET')
      .header('Access-Control-Allow-Headers', 'Authorization')
      .header('Access-Control-Max-Age', '600')
      .code(204)
      .send(),
  );
}
