import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';

/** An RFC 6750 refusal: 401 invalid_token or 403 insufficient_scope, said in WWW-Authenticate too. */
export class BearerError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly error: 'invalid_token' | 'insufficient_scope',
    readonly description: string,
    /** No token at all: RFC 6750 §3.1 asks for no error code in the challenge then. */
    readonly missing = false,
  ) {
    super(description);
  }
}

const invalid = (description: string) => new BearerError(401, 'invalid_token', description);

/** A person's token as the API sees it: who, for which client, with which scopes. */
export interface BearerGrant {
  accountId: string;
  clientId: string;
  scopes: Set<string>;
}

const quote = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

export function sendBearerError(reply: FastifyReply, realm: string, err: BearerError, scope: string): FastifyReply {
  const params = [`realm=${quote(realm)}`];
  if (!err.missing) params.push(`error=${quote(err.error)}`, `error_description=${quote(err.description)}`);
  params.push(`scope=${quote(scope)}`);
  return reply
    .status(err.status)
    .header('WWW-Authenticate', `Bearer ${params.join(', ')}`)
    .header('Cache-Control', 'no-store')
    .send({ error: err.error, error_description: err.description });
}

/** The token of `Authorization: Bearer <token>`; the header is the only place one is read from. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header) : null;
  if (!match) throw new BearerError(401, 'invalid_token', 'no access token provided', true);
  return match[1]!;
}

/** The client, or undefined when it was deleted (or its stored metadata is no longer valid). */
async function findClient(provider: Provider, clientId: string) {
  try {
    return await provider.Client.find(clientId);
  } catch (err) {
    if (err instanceof errors.OIDCProviderError) return undefined;
    throw err;
  }
}

/**
 * Checks a token as oidc-provider's userinfo endpoint does (lib/shared/access_token.js): it
 * exists and is unexpired, its client and grant still exist and agree with it. A client
 * credentials token is valid but has no person: insufficient_scope. Database failures are
 * thrown as they are (DatabaseUnavailableError: a 503, not a 401).
 */
export async function verifyBearer(provider: Provider, value: string): Promise<BearerGrant> {
  if (value.length > 512) throw invalid('access token not found');
  const accessToken = await provider.AccessToken.find(value);
  const clientToken = accessToken ? undefined : await provider.ClientCredentials.find(value);
  const token = accessToken ?? clientToken;
  if (!token) throw invalid('access token not found, expired or revoked');
  if (token.isSenderConstrained()) throw invalid('sender-constrained access tokens are not accepted here');
  const { clientId } = token;
  if (!clientId || !(await findClient(provider, clientId))) throw invalid('the client of this access token no longer exists');
  if (!accessToken) throw new BearerError(403, 'insufficient_scope', 'this access token was issued to a client, not for a person');

  const grant = await provider.Grant.find(accessToken.grantId, { ignoreExpiration: true });
  if (!grant || grant.isExpired) throw invalid('the grant of this access token was revoked or has expired');
  if (grant.clientId !== clientId || grant.accountId !== accessToken.accountId) throw invalid('access token does not match its grant');
  return { accountId: accessToken.accountId, clientId, scopes: accessToken.scopes };
}
