import { inspectIdToken, type KeySets } from './id-token.js';
import {
  beginAuthorization,
  callApiMe,
  connect,
  describeError,
  exchangeCode,
  refresh,
  register,
  revoke,
  wantsIdToken,
} from './relying-party.js';
import type { AuthMethod, ConnectedClient, PlaygroundSession, Step } from './sessions.js';
import {
  apiStep,
  authorizationStep,
  callbackStep,
  failureStep,
  idTokenStep,
  registrationStep,
  revocationStep,
  tokenStep,
} from './steps.js';

/** What every action needs to know about where the playground stands. */
export interface FlowContext {
  issuer: URL;
  redirectUri: string;
  keySets: KeySets;
}

export interface ClientInput {
  clientId: string;
  clientSecret: string;
  authMethod: AuthMethod;
  scope: string;
}

/** Public form of a token response: the JSON Latchkey sent, without openid-client's helper methods. */
function asJson(response: object): Record<string, unknown> {
  return JSON.parse(JSON.stringify(response)) as Record<string, unknown>;
}

async function idTokenSteps(
  context: FlowContext,
  client: ConnectedClient,
  title: string,
  idToken: string | undefined,
  nonce?: string,
): Promise<Step[]> {
  if (!idToken) return [];
  const metadata = client.configuration.serverMetadata();
  const report = await inspectIdToken(
    idToken,
    { issuer: metadata.issuer, clientId: client.clientId, jwksUri: String(metadata.jwks_uri), ...(nonce ? { nonce } : {}) },
    context.keySets,
  );
  return [idTokenStep(title, report)];
}

/** Builds the authorization URL of a new flow for the session's client (step 1). */
export async function authorize(context: FlowContext, session: PlaygroundSession, keep: Step[] = []): Promise<void> {
  const client = session.client!;
  const { url, pending } = await beginAuthorization(client.configuration, context.redirectUri, client.scope);
  session.pending = pending;
  session.authorizationUrl = url.href;
  session.tokens = undefined;
  session.steps = [...keep, authorizationStep(url)];
}

/** "Use one of your clients": discovery with the pasted credentials, then step 1. */
export async function startWithClient(context: FlowContext, session: PlaygroundSession, input: ClientInput): Promise<void> {
  const configuration = await connect(context.issuer, input.clientId, input.clientSecret, input.authMethod);
  session.client = { clientId: input.clientId, authMethod: input.authMethod, scope: input.scope, configuration };
  await authorize(context, session);
}

/** "Let the playground register itself": RFC 7591 with an initial access token, then step 1. */
export async function startWithRegistration(context: FlowContext, session: PlaygroundSession, initialAccessToken: string): Promise<void> {
  const { configuration, metadata } = await register(context.issuer, context.redirectUri, initialAccessToken);
  session.client = {
    clientId: String(metadata.client_id),
    authMethod: 'client_secret_basic',
    scope: String(metadata.scope ?? 'openid profile'),
    configuration,
  };
  await authorize(context, session, [registrationStep(metadata)]);
}

/** Steps 2–5: check the callback, exchange the code, verify the id_token, call /api/me. */
export async function completeAuthorization(context: FlowContext, session: PlaygroundSession, callbackUrl: URL): Promise<void> {
  const client = session.client!;
  const pending = session.pending!;
  session.pending = undefined;
  session.authorizationUrl = undefined;
  const params = callbackUrl.searchParams;
  const stateMatches = params.get('state') === pending.state;
  if (!stateMatches) {
    session.steps.push(
      callbackStep(callbackUrl, false, 'The state does not match: this is not the answer to the request above, so the code is not used.'),
    );
    return;
  }
  if (params.has('error') || !params.has('code')) {
    const error = params.get('error') ?? 'no code in the callback';
    const description = params.get('error_description');
    session.steps.push(callbackStep(callbackUrl, true, description ? `${error}: ${description}` : error));
    return;
  }
  session.steps.push(callbackStep(callbackUrl, true));
  const how = `POST /oauth/token with grant_type=authorization_code, the code, the redirect_uri and the PKCE code_verifier, as the client (${client.authMethod}). Latchkey answered:`;
  let response;
  try {
    response = await exchangeCode(client.configuration, callbackUrl, pending);
  } catch (err) {
    session.steps.push(tokenStep('3. Token response', how, undefined, describeError(err)));
    return;
  }
  session.tokens = {
    accessToken: response.access_token,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(response.id_token ? { idToken: response.id_token } : {}),
  };
  session.steps.push(tokenStep('3. Token response', how, asJson(response)));
  if (response.id_token) {
    session.steps.push(...(await idTokenSteps(context, client, '4. The id_token, decoded and verified', response.id_token, pending.nonce)));
  } else {
    const why = wantsIdToken(pending.scope) ? 'Latchkey sent none.' : 'the scope did not include openid, so this was plain OAuth 2.0.';
    session.steps.push({ title: '4. No id_token', lead: `No id_token: ${why}`, blocks: [] });
  }
  await callApi(context, session, '5. The protected resource: /api/me');
}

export async function callApi(context: FlowContext, session: PlaygroundSession, title = 'The protected resource: /api/me'): Promise<void> {
  const client = session.client!;
  try {
    session.steps.push(apiStep(title, await callApiMe(client.configuration, context.issuer, session.tokens!.accessToken)));
  } catch (err) {
    session.steps.push(failureStep(title, describeError(err)));
  }
}

export async function refreshTokens(context: FlowContext, session: PlaygroundSession): Promise<void> {
  const client = session.client!;
  const tokens = session.tokens!;
  const how = 'POST /oauth/token with grant_type=refresh_token. Latchkey rotates the refresh token: the one used here no longer works.';
  let response;
  try {
    response = await refresh(client.configuration, tokens.refreshToken!);
  } catch (err) {
    session.steps.push(tokenStep('Refresh', how, undefined, describeError(err)));
    return;
  }
  session.tokens = {
    accessToken: response.access_token,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(response.id_token ? { idToken: response.id_token } : {}),
  };
  session.steps.push(tokenStep('Refresh', how, asJson(response)));
  session.steps.push(...(await idTokenSteps(context, client, 'The refreshed id_token, decoded and verified', response.id_token)));
}

/** Revokes the refresh token (or the access token), then shows /api/me refusing the access token. */
export async function revokeTokens(context: FlowContext, session: PlaygroundSession): Promise<void> {
  const client = session.client!;
  const tokens = session.tokens!;
  const [token, hint, what] = tokens.refreshToken
    ? [tokens.refreshToken, 'refresh_token' as const, 'refresh token']
    : [tokens.accessToken, 'access_token' as const, 'access token'];
  try {
    await revoke(client.configuration, token, hint);
  } catch (err) {
    session.steps.push(revocationStep([what], describeError(err)));
    return;
  }
  session.steps.push(revocationStep([what]));
  await callApi(context, session, '/api/me after the revocation');
}
