import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable, UNAVAILABLE, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../db/unavailable.js';

/**
 * oidc-provider 9.13.3 persists a session at the end of every request that touched it; when a
 * request ends in an error before the session was ever saved (a POST to the device code page
 * without having loaded it), that throws "persist can only be called on previously persisted
 * Sessions" from outside its error handler, and Koa answers a bare 500. The provider's own
 * answer (its 400 page) is already set by then: keep it.
 */
const UNSAVED_SESSION = /persist can only be called on previously persisted Sessions/;

/**
 * A last line around the provider's request handling, for errors that escape its own error
 * handler: the known session case above keeps the provider's answer, and an unreachable
 * database gets the same clean 503 as everywhere else, instead of Koa's plain-text 500.
 */
export async function containProviderErrors(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (err instanceof TypeError && UNSAVED_SESSION.test(err.message) && ctx.status >= 400 && ctx.status < 500) return;
    if (!isDatabaseUnavailable(err)) throw err;
    ctx.status = 503;
    ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...UNAVAILABLE };
  }
}
