import type Provider from 'oidc-provider';
import type { ResourceStore } from '../resources/store.js';
import type { InteractionDetails } from './details.js';
import { scopeLines, type ScopeLine } from './scopes.js';
import { isSelfRegistered } from '../oidc/self-registered.js';

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

const consentDetails = (details: InteractionDetails) => details.prompt.details as ConsentDetails;

/**
 * Records what the person allowed: the Grant of this interaction (or a new one) gains the
 * scopes and claims the prompt found missing. Saved before the answer goes back, so the next
 * authorization for the same client and scopes needs no consent.
 */
export async function allowConsent(provider: Provider, details: InteractionDetails): Promise<string> {
  const accountId = details.session?.accountId;
  const clientId = details.params.client_id;
  if (!accountId || typeof clientId !== 'string') throw new Error('consent without an account or a client');
  const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = consentDetails(details);
  if (missingOIDCScope?.length) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims?.length) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

export interface ConsentView {
  clientName: string;
  clientUri: string | undefined;
  scopes: ScopeLine[];
  claims: string[];
  /** Each resource asked for, by its name, with the scopes this consent adds for it. */
  resources: { indicator: string; name: string; scopes: string }[];
  /**
   * Set for a client that registered itself (REGISTRATION=open, or a Client ID Metadata
   * Document): the host (and port) the browser will be sent to, the one thing about such a
   * client that the server can state.
   */
  selfRegistered: { redirectHost: string } | undefined;
}

/** The host of the redirect URI this authorization returns to (what a self-registered client proves). */
function redirectHost(details: InteractionDetails, registered: readonly string[] = []): string {
  const uri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : (registered[0] ?? '');
  return URL.parse(uri)?.host || uri;
}

/** What the consent page shows: who asks (name, web site) and for what. */
export async function consentView(provider: Provider, details: InteractionDetails, resources: ResourceStore): Promise<ConsentView> {
  const clientId = String(details.params.client_id ?? '');
  const client = clientId ? await provider.Client.find(clientId) : undefined;
  const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = consentDetails(details);
  const requested = typeof details.params.scope === 'string' ? details.params.scope : '';
  const clientUri = client?.clientUri && /^https?:\/\//i.test(client.clientUri) ? client.clientUri : undefined;
  return {
    selfRegistered: isSelfRegistered(client) ? { redirectHost: redirectHost(details, client?.redirectUris) } : undefined,
    clientName: client?.clientName || clientId,
    clientUri,
    scopes: scopeLines(requested, missingOIDCScope),
    claims: missingOIDCClaims,
    resources: await Promise.all(
      Object.entries(missingResourceScopes).map(async ([indicator, scopes]) => ({
        indicator,
        name: (await resources.find(indicator))?.name ?? indicator,
        scopes: scopes.join(' '),
      })),
    ),
  };
}
