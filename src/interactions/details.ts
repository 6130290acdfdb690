import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';

export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;
export type PromptName = 'login' | 'consent';

/**
 * The interaction this browser is in, if it is the one in the URL and (when given) at the
 * expected prompt; undefined when it expired, was already finished, or belongs elsewhere.
 */
export async function currentInteraction(
  provider: Provider,
  request: FastifyRequest<{ Params: { uid: string } }>,
  reply: FastifyReply,
  expected?: PromptName,
): Promise<InteractionDetails | undefined> {
  let details: InteractionDetails;
  try {
    details = await provider.interactionDetails(request.raw, reply.raw);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) return undefined;
    throw err;
  }
  if (details.uid !== request.params.uid) return undefined;
  if (expected && details.prompt.name !== expected) return undefined;
  return details;
}

/** The page for an interaction that is gone: never a stack trace, always a way back. */
export function interactionGone(reply: FastifyReply) {
  return reply.code(400).view('error', {
    title: 'This sign-in request has ended',
    message: 'It was already completed, or it waited too long. Go back to the application you came from and start again.',
    error: 'interaction_expired',
  });
}

/** Whether "Continue as NAME" may answer this login prompt: only a plain "nobody signed in" (or a satisfied max_age). */
export function mayContinueAs(details: InteractionDetails, signedInAt: number): boolean {
  const reasons = details.prompt.reasons;
  if (!reasons.every((reason) => reason === 'no_session' || reason === 'max_age')) return false;
  const maxAge = details.params.max_age;
  if (maxAge === undefined) return true;
  const seconds = Number(maxAge);
  return Number.isFinite(seconds) && Math.floor(Date.now() / 1000) - signedInAt <= seconds;
}
