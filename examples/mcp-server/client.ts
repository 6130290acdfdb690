/**
 * An MCP client (the official SDK's) that connects to an MCP server protected by Latchkey:
 *
 *   npx tsx examples/mcp-server/client.ts http://127.0.0.1:3000/mcp
 *
 * On the first request the server answers 401; the SDK follows its protected resource metadata
 * to Latchkey, registers itself (REGISTRATION=open), and this script prints the authorization
 * URL. Open it in a browser, sign in and allow: the browser comes back to this script's loopback
 * address with a code, which the SDK exchanges (PKCE, resource=the server's URL) for a token.
 * Then the tool is called. Everything is kept in memory: a second run registers again.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/** The SDK's OAuth client state, in memory: registration, PKCE verifier, tokens. */
export class MemoryOAuthProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  readonly expectedState = randomBytes(16).toString('base64url');

  constructor(
    readonly redirectUrl: string,
    private readonly open: (authorizationUrl: URL) => void | Promise<void>,
    /** Where this client's Client ID Metadata Document is served (https): then it is the client_id, and nothing registers. */
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Latchkey MCP example client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    return this.expectedState;
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }
  saveClientInformation(client: OAuthClientInformationMixed): void {
    this.client = client;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    await this.open(authorizationUrl);
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

/** A loopback listener for the authorization response (RFC 8252 §7.3): resolves with the code. */
async function loopbackCallback(): Promise<{ redirectUrl: string; code: (state: string) => Promise<string>; close(): void }> {
  let answer: (query: URLSearchParams) => void = () => {};
  const arrived = new Promise<URLSearchParams>((resolve) => (answer = resolve));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Done</title><p>Signed in. You can close this tab and go back to the terminal.</p>');
    answer(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    redirectUrl: `http://127.0.0.1:${port}/callback`,
    code: async (state) => {
      const query = await arrived;
      if (query.get('state') !== state) throw new Error('the authorization response carries another state');
      const code = query.get('code');
      if (!code) throw new Error(`authorization refused: ${query.get('error')} ${query.get('error_description') ?? ''}`);
      return code;
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

export interface McpSession {
  client: Client;
  provider: MemoryOAuthProvider;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /**
   * For a client described by a Client ID Metadata Document instead of registering: given this
   * client's loopback redirect URI (which the document must list), the document's https URL.
   */
  clientMetadataUrl?: (redirectUrl: string) => string;
}

/**
 * Connects to the MCP server at `serverUrl`, going through Latchkey's sign-in and consent when
 * the server asks for a token: `open` is given the authorization URL (print it, or drive a browser).
 */
export async function connectWithOAuth(
  serverUrl: URL,
  open: (authorizationUrl: URL) => void | Promise<void>,
  options: ConnectOptions = {},
): Promise<McpSession> {
  const callback = await loopbackCallback();
  const provider = new MemoryOAuthProvider(callback.redirectUrl, open, options.clientMetadataUrl?.(callback.redirectUrl));
  const client = new Client({ name: 'latchkey-example-client', version: '1.0.0' });
  try {
    try {
      await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      const code = await callback.code(provider.expectedState);
      const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
      await transport.finishAuth(code);
      await client.connect(transport);
    }
  } finally {
    callback.close();
  }
  return { client, provider, close: () => client.close() };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const serverUrl = new URL(process.argv[2] ?? 'http://127.0.0.1:3000/mcp');
  const session = await connectWithOAuth(serverUrl, (url) => {
    console.log(`Open this address in a browser, sign in to Latchkey and allow:\n\n  ${url.href}\n`);
  });
  const { tools } = await session.client.listTools();
  console.log(`Tools: ${tools.map((tool) => tool.name).join(', ')}`);
  const result = await session.client.callTool({ name: 'whoami' });
  const content = result.content as { type: string; text?: string }[];
  console.log(`whoami: ${content.map((part) => part.text ?? '').join('')}`);
  await session.close();
}
