import { SELF_REGISTERED } from '../endpoints.js';

/**
 * Whether a client registered itself, so that nobody at this server vouches for its name or web
 * site: a client registered anonymously (REGISTRATION=open; marked SELF_REGISTERED in its stored
 * metadata) or one whose `client_id` is the URL of its Client ID Metadata Document (the provider
 * marks such clients `clientIdMetadataDocument`). Consent pages and PKCE policy ask this alone.
 */
export function isSelfRegistered(client: object | undefined): boolean {
  const metadata = client as Record<string, unknown> | undefined;
  return metadata?.[SELF_REGISTERED] === true || metadata?.clientIdMetadataDocument === true;
}
