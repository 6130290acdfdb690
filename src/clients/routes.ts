import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/store.js';
import type { ClientMetadata, StoredClient } from './store.js';
import { ClientValidationError } from '../oidc/client-metadata.js';
import { EMPTY_FORM, clientHref, clientInput, formValues, formView, infoRows, metadataRows, type ClientFormValues } from './pages.js';

type ClientRequest = FastifyRequest<{ Params: { clientId: string } }>;

/**
 * The client registry in the browser: the home page (the anonymous welcome, or "Your clients"
 * and "Create client"), and per client: show, delete, rotate secret. A person only ever sees
 * their own clients; anyone else's answer 404, exactly like a client that does not exist.
 */
export async function clientRoutes(app: FastifyInstance): Promise<void> {
  const csrf = { preHandler: app.csrfProtection };

  async function home(reply: FastifyReply, account: Account, values: ClientFormValues, problems: string[] = [], status = 200) {
    const clients = await app.clients.listByOwner(account.id);
    return reply.code(status).view('home', {
      title: 'Your clients',
      clients: clients.map((c) => ({ ...c, href: clientHref(c.client_id), grantTypes: c.grant_types.join(', ') })),
      form: formView(values),
      problems,
    });
  }

  function clientPage(
    reply: FastifyReply,
    template: 'client' | 'client-secret',
    metadata: ClientMetadata,
    secret: { issued?: string | undefined; isSet: boolean },
    status = 200,
  ) {
    reply.header('Cache-Control', 'no-store');
    return reply.code(status).view(template, {
      title: metadata.client_name,
      clientName: metadata.client_name,
      href: clientHref(metadata.client_id),
      info: infoRows(metadata, secret),
      metadata: metadataRows(metadata),
      secretIssued: secret.issued !== undefined,
      isPublic: !secret.isSet && secret.issued === undefined,
    });
  }

  function notFound(reply: FastifyReply) {
    return reply.code(404).view('error', { title: 'Not found', message: 'You have no client with this client_id.' });
  }

  /** The signed-in person's own client, or undefined (not signed in: sent to sign in; not theirs: 404). */
  async function ownClient(request: ClientRequest, reply: FastifyReply): Promise<{ account: Account; client: StoredClient } | undefined> {
    const account = request.account;
    if (!account) {
      await reply.redirect('/', 303);
      return undefined;
    }
    const client = await app.clients.get(request.params.clientId);
    if (!client || client.ownerId !== account.id) {
      await notFound(reply);
      return undefined;
    }
    return { account, client };
  }

  app.get('/', async (request, reply) => {
    if (!request.account) return reply.view('welcome', { title: 'Welcome' });
    return home(reply, request.account, EMPTY_FORM);
  });

  app.post('/clients', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    try {
      const issued = await app.clients.create(clientInput(request.body), account.id);
      request.audit('client.created', { client_id: issued.clientId, owner: account.id });
      return clientPage(
        reply,
        'client-secret',
        issued.metadata,
        { issued: issued.clientSecret, isSet: issued.clientSecret !== undefined },
        201,
      );
    } catch (err) {
      if (!(err instanceof ClientValidationError)) throw err;
      return home(reply, account, formValues(request.body), err.problems, 422);
    }
  });

  app.get<{ Params: { clientId: string } }>('/clients/:clientId', async (request, reply) => {
    const own = await ownClient(request, reply);
    if (!own) return reply;
    return clientPage(reply, 'client', own.client.metadata, { isSet: own.client.hasSecret });
  });

  app.post<{ Params: { clientId: string } }>('/clients/:clientId/delete', csrf, async (request, reply) => {
    const own = await ownClient(request, reply);
    if (!own) return reply;
    await app.clients.delete(own.client.metadata.client_id);
    request.audit('client.deleted', { client_id: own.client.metadata.client_id, owner: own.account.id });
    return reply.redirect('/', 303);
  });

  app.post<{ Params: { clientId: string } }>('/clients/:clientId/rotate-secret', csrf, async (request, reply) => {
    const own = await ownClient(request, reply);
    if (!own) return reply;
    const rotated = await app.clients.rotateSecret(own.client.metadata.client_id);
    if (!rotated) return clientPage(reply, 'client', own.client.metadata, { isSet: own.client.hasSecret }, 409);
    request.audit('client.secret_rotated', { client_id: rotated.clientId, owner: own.account.id });
    return clientPage(reply, 'client-secret', rotated.metadata, { issued: rotated.clientSecret, isSet: true });
  });
}
