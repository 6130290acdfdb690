import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { cookieOptions } from '../http/security-headers.js';
import { textField } from '../http/form-fields.js';
import { PENDING_SECONDS, type PendingSignIn } from './two-factor.js';

export type SecondFactorCheck =
  | { outcome: 'right'; method: 'otp' | 'recovery_code' }
  | { outcome: 'wrong' }
  | { outcome: 'limited'; retryAfter: number; message: string };

/** The cookie naming a sign-in that waits for its second factor (the id of a pending_sign_ins row, signed). */
const PENDING_COOKIE = 'latchkey_2fa';

/** The page asking for the code (views/two-factor.hbs). */
export function secondFactorPage(reply: FastifyReply, status: number, action: string, problem?: string, cancel?: string) {
  return reply
    .code(status)
    .header('Cache-Control', 'no-store')
    .view('two-factor', { title: 'Authentication code', action, problem, cancel });
}

/** After a right password for an account with two-factor on: the sign-in waits, bound to this browser (and interaction). */
export async function awaitSecondFactor(app: FastifyInstance, reply: FastifyReply, accountId: number, interactionUid: string | null) {
  const id = await app.twoFactor.startPending(accountId, interactionUid);
  reply.setCookie(PENDING_COOKIE, id, { ...cookieOptions(app.config.issuer), signed: true, maxAge: PENDING_SECONDS });
}

export type SecondFactorResult =
  | { outcome: 'signed-in'; accountId: number; method: 'otp' | 'recovery_code' }
  | { outcome: 'problem'; status: number; problem: string; gone?: boolean };

/**
 * The second step of a sign-in: the pending sign-in of this browser (for this interaction, or
 * the console's own when null) and a right code for it, under the limits. Used once: the pending
 * row is deleted by the one request whose code was right.
 */
export async function verifySecondFactor(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  interactionUid: string | null,
): Promise<SecondFactorResult> {
  const raw = request.cookies[PENDING_COOKIE];
  const unsigned = raw ? request.unsignCookie(raw) : undefined;
  const id = unsigned?.valid && unsigned.value ? unsigned.value : undefined;
  const pending: PendingSignIn | undefined = await app.twoFactor.findPending(id);
  if (!id || !pending || pending.interactionUid !== interactionUid) {
    return { outcome: 'problem', status: 400, problem: 'This sign-in has expired. Sign in again with your password.', gone: true };
  }
  const code = textField(request.body, 'code');
  if (!code.trim()) return { outcome: 'problem', status: 422, problem: 'Enter the code from your authenticator app, or a recovery code.' };
  if (code.length > 64)
    return {
      outcome: 'problem',
      status: 401,
      problem: 'That code is not right. Enter the current code from your authenticator app, or an unused recovery code.',
    };
  const check = await app.checkSecondFactor(pending.accountId, code, request);
  if (check.outcome === 'limited') {
    reply.header('Retry-After', String(check.retryAfter));
    return { outcome: 'problem', status: 429, problem: check.message };
  }
  if (check.outcome === 'wrong') {
    return {
      outcome: 'problem',
      status: 401,
      problem: 'That code is not right. Enter the current code from your authenticator app, or an unused recovery code.',
    };
  }
  if (!(await app.twoFactor.endPending(id))) {
    return { outcome: 'problem', status: 400, problem: 'This sign-in has expired. Sign in again with your password.', gone: true };
  }
  reply.clearCookie(PENDING_COOKIE, cookieOptions(app.config.issuer));
  return { outcome: 'signed-in', accountId: pending.accountId, method: check.method };
}
