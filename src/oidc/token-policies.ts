import { errors, type KoaContextWithOIDC } from 'oidc-provider';

type Client = KoaContextWithOIDC['oidc']['client'] & {};
type Token = { clientId?: string | undefined };

/**
 * Who may introspect a token (RFC 7662 §4): any confidential client, as resource servers must
 * be able to check the tokens presented to them; a public client only its own tokens, since
 * anyone can authenticate as it.
 */
export async function introspectionAllowed(_ctx: KoaContextWithOIDC, client: Client, token: Token): Promise<boolean> {
  return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
}

/** Who may revoke a token (RFC 7009 §2.1): only the client it was issued to. */
export async function revocationAllowed(_ctx: KoaContextWithOIDC, client: Client, token: Token): Promise<boolean> {
  if (token.clientId === client.clientId) return true;
  // A public client learns nothing (RFC 7009 answers 200 for tokens it cannot revoke).
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
}
