import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import { grantsOf, revokeGrant, type StoredGrant } from '../oidc/adapter/grants.js';
import { textField } from '../http/form-fields.js';

export interface ConnectedApp {
  clientId: string;
  clientName: string;
  clientUri: string | undefined;
  scopes: string[];
  allowedAt: string;
  allowedAtIso: string;
}

const when = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** The account's grants, one line per client: every scope granted, and when it was first allowed. */
async function connectedApps(provider: Provider, grants: StoredGrant[]): Promise<ConnectedApp[]> {
  const byClient = new Map<string, StoredGrant[]>();
  for (const grant of grants) byClient.set(grant.clientId, [...(byClient.get(grant.clientId) ?? []), grant]);
  const apps: ConnectedApp[] = [];
  for (const [clientId, ofClient] of byClient) {
    // A client known by its metadata document is fetched again when its cache expires; one
    // that cannot be fetched any more is still listed (by its URL), so it can be revoked.
    const client = await provider.Client.find(clientId).catch(() =>
      /^https:\/\//i.test(clientId) ? { clientName: undefined, clientUri: undefined } : undefined,
    );
    if (!client) continue;
    const first = new Date(Math.min(...ofClient.map((g) => g.issuedAt.getTime())));
    apps.push({
      clientId,
      clientName: client.clientName || clientId,
      clientUri: client.clientUri && /^https?:\/\//i.test(client.clientUri) ? client.clientUri : undefined,
      scopes: [...new Set(ofClient.flatMap((g) => g.scopes))],
      allowedAt: when(first),
      allowedAtIso: first.toISOString(),
    });
  }
  return apps.sort((a, b) => a.clientName.localeCompare(b.clientName));
}

/** /connected-apps: the clients the person allowed, each with a Revoke button. */
export async function connectedAppsRoutes(app: FastifyInstance): Promise<void> {
  const { provider } = app;

  app.get('/connected-apps', async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    const apps = await connectedApps(provider, await grantsOf(app.db, String(account.id)));
    return reply.header('Cache-Control', 'no-store').view('connected-apps', { title: 'Connected apps', apps });
  });

  app.post('/connected-apps/revoke', { preHandler: app.csrfProtection }, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    const clientId = textField(request.body, 'client_id');
    if (clientId) {
      // Every grant of the pair, in pages, until none is left (a revoked grant leaves the list).
      const page = () => grantsOf(app.db, String(account.id), clientId, 200);
      let revoked = 0;
      for (let grants = await page(); grants.length > 0; grants = await page()) {
        for (const grant of grants) await revokeGrant(provider, grant.grantId);
        revoked += grants.length;
      }
      request.audit('grant.revoked', { client_id: clientId, account: account.id, grants: revoked, via: 'connected_apps' });
    }
    return reply.redirect('/connected-apps', 303);
  });
}
