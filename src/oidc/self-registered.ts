/**
 * Whether a client registered itself, so that nobody at this server vouches for its name or web
 * site: today, a client whose `client_id` is the URL of its Client ID Metadata Document (the
 * provider marks such clients `clientIdMetadataDocument`). Pages that introduce a client say so
 * by this function alone.
 */
export function isSelfRegistered(client: object | undefined): boolean {
  return (client as { clientIdMetadataDocument?: unknown } | undefined)?.clientIdMetadataDocument === true;
}
