import type { IncomingMessage } from 'node:http';

/**
 * Every URL the provider prints (discovery, RFC 8414 metadata, registration_client_uri, the
 * redirect to the interaction pages) derives from ISSUER, never from the request's Host: the
 * provider builds them from what Koa sees of the request, so it is shown the issuer's host and
 * scheme. The provider reads these as forwarded headers (it runs with `proxy` on), so the client
 * address is pinned to the socket's too, unless TRUST_PROXY says a proxy in front sets it.
 * An https ISSUER thus also means a secure request to the provider: its Secure cookies are set,
 * never refused as "sent over an unencrypted connection".
 */
export function pinToIssuer(issuer: string, trustProxy: boolean): (req: IncomingMessage) => void {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return (req) => {
    req.headers.host = host;
    req.headers['x-forwarded-host'] = host;
    req.headers['x-forwarded-proto'] = scheme;
    if (!trustProxy) req.headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  };
}
