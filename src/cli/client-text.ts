import { METADATA_ORDER } from '../oidc/client-metadata.js';
import { listText, printable } from './text.js';

function valueText(value: unknown): string {
  return Array.isArray(value) ? listText(value.map(String)) : printable(String(value));
}

/** "Client Info" and "Client Metadata", as the Authlib example printed a client. */
export function clientText(metadata: Record<string, unknown>, secretText: string, ownerText?: string): string {
  const lines = [
    'Client Info',
    `  client_id: ${valueText(metadata.client_id)}`,
    `  client_secret: ${secretText}`,
    `  client_id_issued_at: ${valueText(metadata.client_id_issued_at)}`,
    `  client_secret_expires_at: ${valueText(metadata.client_secret_expires_at ?? 0)}`,
    'Client Metadata',
  ];
  for (const key of METADATA_ORDER) {
    if (metadata[key] !== undefined) lines.push(`  ${key}: ${valueText(metadata[key])}`);
  }
  if (ownerText !== undefined) lines.push(`Owner: ${ownerText}`);
  return lines.join('\n');
}

/** A client as one JSON object: the Client Info fields first, then the RFC 7591 metadata. */
export function clientJson(metadata: Record<string, unknown>, clientSecret?: string): Record<string, unknown> {
  const { client_id, client_id_issued_at, client_secret_expires_at, ...rest } = metadata;
  return {
    client_id,
    ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}),
    client_id_issued_at,
    client_secret_expires_at: client_secret_expires_at ?? 0,
    ...rest,
  };
}
