import { sql, type Kysely } from 'kysely';
import type { AdapterPayload } from 'oidc-provider';
import { newClientId, newClientSecret } from '../oidc/client-ids.js';
import { forgetRow, slotOf } from '../db/cache/row-cache.js';
import type { Schema } from '../db/schema.js';
import { guarded } from '../db/unavailable.js';
import { KyselyAdapter } from '../oidc/adapter/kysely-adapter.js';
import { sha256 } from '../crypto/hash.js';
import { validateClientInput, type ClientInput } from '../oidc/client-metadata.js';

export interface ClientMetadata extends ClientInput {
  client_id: string;
  client_id_issued_at: number;
  client_secret_expires_at: number;
}

export interface StoredClient {
  metadata: ClientMetadata;
  ownerId: number | undefined;
  hasSecret: boolean;
}

/** What creating a client (or rotating its secret) returns: the only time the secret is seen. */
export interface IssuedClient {
  clientId: string;
  clientSecret: string | undefined;
  metadata: ClientMetadata;
}

/** The provider's own check of client metadata (Client.validate), so both agree. */
export type ProviderValidation = (metadata: Record<string, unknown>) => Promise<void>;

function publicMetadata(payload: Record<string, unknown>): ClientMetadata {
  const { client_secret: _hidden, ...rest } = payload;
  return rest as unknown as ClientMetadata;
}

export class ClientStore {
  private readonly adapter: KyselyAdapter;

  constructor(
    private readonly db: Kysely<Schema>,
    /** The scopes a client may be registered for: the server's and the protected resources' (read afresh). */
    private readonly scopes: () => Promise<readonly string[]>,
    private readonly providerValidate: ProviderValidation,
  ) {
    this.adapter = new KyselyAdapter('Client', db);
  }

  async create(input: ClientInput, ownerId?: number): Promise<IssuedClient> {
    const valid = validateClientInput(input, await this.scopes());
    const clientId = newClientId();
    const clientSecret = valid.token_endpoint_auth_method === 'none' ? undefined : newClientSecret();
    const metadata: ClientMetadata = {
      ...valid,
      client_id: clientId,
      client_id_issued_at: Math.floor(Date.now() / 1000),
      client_secret_expires_at: 0,
    };
    if (!metadata.client_uri) delete metadata.client_uri;
    const payload = { ...metadata, ...(clientSecret ? { client_secret: clientSecret } : {}) } as AdapterPayload;
    await this.providerValidate(payload as Record<string, unknown>);
    await guarded(() =>
      this.db.transaction().execute(async (trx) => {
        await new KyselyAdapter('Client', trx).upsert(clientId, payload, undefined);
        if (ownerId !== undefined) await trx.insertInto('client_owners').values({ client_id: clientId, owner_id: ownerId }).execute();
      }),
    );
    return { clientId, clientSecret, metadata };
  }

  async get(clientId: string): Promise<StoredClient | undefined> {
    if (!clientId || clientId.length > 256) return undefined;
    const payload = (await this.adapter.find(clientId)) as Record<string, unknown> | undefined;
    if (!payload) return undefined;
    const owner = await guarded(() =>
      this.db.selectFrom('client_owners').select('owner_id').where('client_id', '=', clientId).executeTakeFirst(),
    );
    return { metadata: publicMetadata(payload), ownerId: owner?.owner_id, hasSecret: typeof payload.client_secret === 'string' };
  }

  /** The owner's clients, newest first, through the owner index (no scan of the payload table). */
  async listByOwner(ownerId: number): Promise<ClientMetadata[]> {
    const owned = await guarded(() =>
      this.db.selectFrom('client_owners').select('client_id').where('owner_id', '=', ownerId).orderBy('created_at', 'desc').execute(),
    );
    if (!owned.length) return [];
    const rows = await guarded(() =>
      this.db
        .selectFrom('oidc_payloads')
        .select('payload')
        .where('model', '=', 'Client')
        .where(
          'key',
          'in',
          owned.map((o) => sha256(o.client_id)),
        )
        .execute(),
    );
    const byId = new Map(rows.map((r) => [r.payload.client_id as string, publicMetadata(r.payload)]));
    return owned.map((o) => byId.get(o.client_id)).filter((m): m is ClientMetadata => m !== undefined);
  }

  async listAll(): Promise<ClientMetadata[]> {
    const rows = await guarded(() => this.db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'Client').execute());
    return rows.map((r) => publicMetadata(r.payload)).sort((a, b) => b.client_id_issued_at - a.client_id_issued_at);
  }

  /** Deletes the client and everything issued to it (tokens, codes, grants). */
  async delete(clientId: string): Promise<boolean> {
    // This process's cached copy goes at once; other processes hear it from the database.
    const forget = () => forgetRow(slotOf('Client', sha256(clientId)));
    forget();
    return guarded(() =>
      this.db.transaction().execute(async (trx) => {
        const deleted = await trx
          .deleteFrom('oidc_payloads')
          .where('model', '=', 'Client')
          .where('key', '=', sha256(clientId))
          .executeTakeFirst();
        if (!deleted.numDeletedRows) return false;
        await trx.deleteFrom('client_owners').where('client_id', '=', clientId).execute();
        await trx
          .deleteFrom('oidc_payloads')
          .where(sql`payload->>'clientId'`, '=', clientId)
          .execute();
        return true;
      }),
    ).finally(forget);
  }

  /** A new secret; the old one stops working at once. Undefined for unknown or public clients. */
  async rotateSecret(clientId: string): Promise<IssuedClient | undefined> {
    const payload = (await this.adapter.find(clientId)) as Record<string, unknown> | undefined;
    if (!payload || typeof payload.client_secret !== 'string') return undefined;
    const clientSecret = newClientSecret();
    await this.adapter.upsert(clientId, { ...payload, client_secret: clientSecret }, undefined);
    return { clientId, clientSecret, metadata: publicMetadata(payload) };
  }
}
