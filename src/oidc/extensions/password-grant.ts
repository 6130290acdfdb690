import type Provider from 'oidc-provider';
import { errors, type Account, type TokenEndpointGrantContext } from 'oidc-provider';
import type { AccountStore } from '../../accounts/store.js';
import { canonicalUsername } from '../../accounts/username.js';
import type { CredentialLimiter } from '../../limits/credential-limits.js';
import { QueueFull } from '../../limits/work-queue.js';

export const PASSWORD_GRANT = 'password';
const PARAMETERS = ['username', 'password', 'scope'] as const;

type PasswordParams = { username?: string; password?: string };
type Context = TokenEndpointGrantContext<PasswordParams>;

export interface PasswordGrantDeps {
  accounts: AccountStore;
  limiter: CredentialLimiter;
  /** The provider's findAccount: the same claims as every other grant. */
  findAccount: (ctx: Context, sub: string) => Promise<Account | undefined>;
  /** The id of the account's newest Grant for the client, if it has one (one Grant per pair, not one per sign-in). */
  existingGrantId: (accountId: string, clientId: string) => Promise<string | undefined>;
  /** A Grant is reused only while it outlives the tokens issued under it by this much (seconds). */
  grantReuseMargin: number;
}

/** Too many failed password checks for this username: 429 with Retry-After. */
class TooManyAttempts extends errors.CustomOIDCProviderError {
  constructor() {
    super('invalid_grant', 'too many failed sign-in attempts for this username; try again later');
    this.status = this.statusCode = 429;
  }
}

function required(ctx: Context, name: 'username' | 'password'): string {
  const value = ctx.oidc.params[name];
  if (typeof value !== 'string' || value === '') throw new errors.InvalidRequest(`missing required parameter '${name}'`);
  return value;
}

/**
 * The scopes granted: those asked for (the client's registered ones when none are asked, RFC
 * 6749 §3.3), kept only if the server knows them and the client may have them. Asking only for
 * scopes that are all dropped is an error rather than a token that can do nothing.
 */
function grantedScopes(ctx: Context, known: ReadonlySet<string>): string[] {
  const allowed = ctx.oidc.client.scope ? new Set(ctx.oidc.client.scope.split(' ')) : known;
  const asked = ctx.oidc.params.scope ? ctx.oidc.params.scope.split(' ').filter(Boolean) : [...allowed];
  const granted = [...new Set(asked)].filter((scope) => known.has(scope) && allowed.has(scope));
  if (asked.length && !granted.length)
    throw new errors.InvalidScope('none of the requested scopes is allowed for this client', asked.join(' '));
  return granted;
}

async function idToken(ctx: Context, provider: Provider, account: Account, scope: string): Promise<string | undefined> {
  if (!scope.split(' ').includes('openid')) return undefined;
  const token = new provider.IdToken({ ...(await account.claims('id_token', scope, {}, [])), sub: account.accountId }, { ctx });
  Object.assign(token, { scope, mask: {}, rejected: [] });
  return token.issue({ use: 'idtoken' });
}

/**
 * The resource owner password credentials grant (RFC 6749 §4.3), which the Authlib example uses. Built as
 * oidc-provider builds its own grants (lib/actions/grants/*.js): a Grant, then an opaque access
 * token, a refresh token when the client may refresh, and an ID token for `openid`.
 */
export function registerPasswordGrant(provider: Provider, known: readonly string[], deps: PasswordGrantDeps): void {
  const knownScopes = new Set(known);

  async function passwordGrant(ctx: Context): Promise<void> {
    const { client } = ctx.oidc;
    // Registration refuses it already; a client anyone can name must never check passwords.
    if (client.clientAuthMethod === 'none') throw new errors.UnauthorizedClient('public clients may not use the password grant');
    const username = required(ctx, 'username');
    const password = required(ctx, 'password');

    // Counted per username and per IP before the check (ctx.ip honours X-Forwarded-For when TRUST_PROXY is on).
    const result = await deps.limiter
      .attempt({ username: canonicalUsername(username), ip: ctx.ip }, () => deps.accounts.verify(username, password))
      .catch((err: unknown) => {
        if (err instanceof QueueFull) ctx.set('Retry-After', String(err.retryAfter));
        throw err;
      });
    if (result.outcome === 'limited') {
      ctx.set('Retry-After', String(result.retryAfter));
      throw new TooManyAttempts();
    }
    if (result.outcome === 'wrong') throw new errors.InvalidGrant('invalid username or password');
    // A second factor is one this grant cannot ask for.
    if (result.value.secondFactor) {
      throw new errors.CustomOIDCProviderError(
        'invalid_grant',
        'this account signs in with a second factor (an authenticator app): sign in in the browser',
      );
    }
    const account = await deps.findAccount(ctx, String(result.value.id));
    if (!account) throw new errors.InvalidGrant('invalid username or password');
    ctx.oidc.entity('Account', account);

    const scopes = grantedScopes(ctx, knownScopes);
    const existingId = await deps.existingGrantId(account.accountId, client.clientId);
    const found = existingId ? await provider.Grant.find(existingId) : undefined;
    const lasting = found && (found.exp === undefined || found.exp - Math.floor(Date.now() / 1000) > deps.grantReuseMargin);
    const grant = lasting ? found : new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
    const held = new Set(lasting ? grant.getOIDCScope().split(' ') : []);
    const adds = scopes.some((scope) => !held.has(scope));
    if (adds) grant.addOIDCScope(scopes);
    // A reused grant that already holds every scope is not written again: concurrent sign-ins of
    // one person would otherwise all rewrite one row.
    const grantId = lasting && !adds ? found.jti : await grant.save();
    ctx.oidc.entity('Grant', grant);
    const scope = grant.getOIDCScopeFiltered(new Set(scopes));

    const at = new provider.AccessToken({ accountId: account.accountId, client, grantId, gty: PASSWORD_GRANT, scope: scope || undefined });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken: string | undefined;
    if (client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({ accountId: account.accountId, client, grantId, gty: PASSWORD_GRANT, scope, rotations: 0 });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    const body = {
      access_token: accessToken,
      expires_in: at.expiration,
      id_token: await idToken(ctx, provider, account, scope),
      refresh_token: refreshToken,
      scope: scope || undefined,
      token_type: at.tokenType,
    };
    ctx.body = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
  }

  provider.registerGrantType<PasswordParams>(PASSWORD_GRANT, passwordGrant, PARAMETERS);
}
