/**
 * An MCP server (Streamable HTTP, one tool) whose tokens come from Latchkey.
 *
 *   ISSUER=http://127.0.0.1:5000 PORT=3000 npx tsx examples/mcp-server/server.ts
 *
 * It is a protected resource (RFC 9728): its metadata names Latchkey as the authorization
 * server, a request without a valid token gets 401 with WWW-Authenticate pointing there, and
 * an access token is a JWT that Latchkey signed (RFC 9068), verified here with Latchkey's public
 * keys: issuer, audience (this server's URL, as registered with `latchkey resource create`),
 * expiry and the scope. Nothing is asked of Latchkey per request but its key set, cached.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/** The path of the MCP endpoint; the server's URL (its resource indicator) ends with it. */
export const MCP_PATH = '/mcp';
/** The scope a token must carry to call the tool (`latchkey resource create --scope mcp:tools`). */
export const TOOL_SCOPE = 'mcp:tools';
const METADATA_PATH = '/.well-known/oauth-protected-resource';

export interface McpServerOptions {
  /** Latchkey's issuer, e.g. http://127.0.0.1:5000. */
  issuer: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
}

export interface RunningMcpServer {
  /** The MCP endpoint, which is also the resource URI the tokens must be issued for. */
  url: string;
  /** Its RFC 9728 protected resource metadata. */
  metadataUrl: string;
  close(): Promise<void>;
}

interface Caller {
  sub: string;
  clientId: string;
  scopes: string[];
}

/** One MCP server per request (stateless Streamable HTTP): nothing is kept between calls. */
function mcpFor(caller: Caller): McpServer {
  const mcp = new McpServer({ name: 'latchkey-example', version: '1.0.0' });
  mcp.registerTool(
    'whoami',
    { title: 'Who am I', description: 'Says which Latchkey account and client the access token was issued to' },
    async () => ({
      content: [{ type: 'text', text: `account ${caller.sub}, client ${caller.clientId}, scope ${caller.scopes.join(' ')}` }],
    }),
  );
  return mcp;
}

function challenge(res: ServerResponse, metadataUrl: string, status: 401 | 403, error?: string, description?: string): void {
  const parts = [`resource_metadata="${metadataUrl}"`, `scope="${TOOL_SCOPE}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${description.replace(/["\\]/g, '')}"`);
  res.writeHead(status, { 'www-authenticate': `Bearer ${parts.join(', ')}`, 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: error ?? 'unauthorized', ...(description ? { error_description: description } : {}) }));
}

export async function startMcpServer({ issuer, port = 0, host = '127.0.0.1' }: McpServerOptions): Promise<RunningMcpServer> {
  const jwks = createRemoteJWKSet(new URL('/oauth/jwks', issuer));
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(port, host, resolve));
  const address = http.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  const resource = `${origin}${MCP_PATH}`;
  const metadataUrl = `${origin}${METADATA_PATH}`;
  const metadata = {
    resource,
    authorization_servers: [issuer],
    scopes_supported: [TOOL_SCOPE],
    bearer_methods_supported: ['header'],
    resource_name: 'Latchkey example MCP server',
  };

  async function verify(req: IncomingMessage): Promise<Caller | { error: string; description: string } | undefined> {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const token = /^Bearer ([^\s]+)$/i.exec(header)?.[1];
    if (!token) return { error: 'invalid_request', description: 'send the access token as Authorization: Bearer TOKEN' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer, audience: resource, typ: 'at+jwt', algorithms: ['RS256', 'ES256'] }));
    } catch (err) {
      return { error: 'invalid_token', description: err instanceof Error ? err.message : 'the access token is not valid here' };
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    return { sub: String(payload.sub), clientId: String(payload.client_id), scopes };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', origin).pathname;
    if (req.method === 'GET' && (path === METADATA_PATH || path === `${METADATA_PATH}${MCP_PATH}`)) {
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
      res.end(JSON.stringify(metadata));
      return;
    }
    if (path !== MCP_PATH) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found' }));
      return;
    }
    const caller = await verify(req);
    if (!caller) return challenge(res, metadataUrl, 401);
    if ('error' in caller) return challenge(res, metadataUrl, 401, caller.error, caller.description);
    if (!caller.scopes.includes(TOOL_SCOPE)) {
      return challenge(res, metadataUrl, 403, 'insufficient_scope', `the tool needs the scope ${TOOL_SCOPE}`);
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    const mcp = mcpFor(caller);
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  }

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      console.error('mcp server:', err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'server_error' }));
    });
  });

  return {
    url: resource,
    metadataUrl,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = (process.env.ISSUER ?? 'http://127.0.0.1:5000').replace(/\/$/, '');
  const server = await startMcpServer({ issuer, port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
  console.log(`MCP server at ${server.url} (tokens from ${issuer})`);
  console.log(`Register it once: npm run -s cli -- resource create --uri ${server.url} --name "Example MCP server" --scope ${TOOL_SCOPE}`);
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
}
