import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, UNAVAILABLE, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../db/unavailable.js';

/**
 * SQLSTATEs that only bad input causes: a value PostgreSQL cannot hold as text (a NUL byte,
 * 22021/22P05) or cannot read as its column's type (22P02). A client error, not the server's.
 */
const INPUT_SQLSTATES = new Set(['22021', '22P05', '22P02']);

function isBadInput(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && INPUT_SQLSTATES.has(code);
}

function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') && !request.url.startsWith('/api/');
}

/** Errors become a JSON error (or an error page for browsers); never a stack trace. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(async (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    let error = status >= 500 ? 'server_error' : 'invalid_request';
    let description = status >= 500 ? 'something went wrong' : err.message;
    const told = err as { expose?: unknown; error?: unknown; error_description?: unknown; retryAfter?: unknown };
    if (told.expose === true && typeof told.error === 'string' && typeof told.error_description === 'string') {
      // An error that says what to answer (e.g. QueueFull: 503 temporarily_unavailable).
      error = told.error;
      description = told.error_description;
      if (typeof told.retryAfter === 'number') reply.header('Retry-After', String(told.retryAfter));
    } else if (isDatabaseUnavailable(err)) {
      status = 503;
      error = UNAVAILABLE.error;
      description = UNAVAILABLE.error_description;
      reply.header('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    } else if (isBadInput(err)) {
      status = 400;
      error = 'invalid_request';
      description = 'the request contains a value that is not allowed';
    } else if (status === 413) {
      error = 'invalid_request';
      description = 'request body is too large';
    }
    if (status >= 500 && status !== 503) request.log.error({ err }, 'request failed');
    else request.log.info({ status, error: err.message }, 'request refused');
    reply.status(status);
    if (wantsHtml(request) && typeof reply.view === 'function') {
      return reply.view('error', { title: 'Sorry, that did not work', message: description, error });
    }
    return { error, error_description: description };
  });
}

/** Unknown addresses: a page for browsers, JSON otherwise. Set where the pages are (their headers apply). */
export function installNotFoundHandler(app: FastifyInstance): void {
  app.setNotFoundHandler(async (request, reply) => {
    reply.status(404);
    if (wantsHtml(request)) return reply.view('error', { title: 'Not found', message: 'There is no page at this address.' });
    return { error: 'not_found', error_description: 'no such resource' };
  });
}
