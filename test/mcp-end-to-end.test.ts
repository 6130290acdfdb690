import t from 'tap';
import type { Page } from 'playwright-core';
import { decodeJwt } from 'jose';
import { connectWithOAuth } from '../examples/mcp-server/client.js';
import { startMcpServer, TOOL_SCOPE } from '../examples/mcp-server/server.js';
import { openBrowser, requireChromium } from './helpers/chromium.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { consent, signIn } from './helpers/latchkey-pages.js';
import { json } from './helpers/http.js';
import { metadataHost } from './helpers/metadata-host.js';
import { token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/**
 * The official MCP SDK's client against the example MCP server of examples/mcp-server (the one
 * README's guide runs), with Latchkey under REGISTRATION=open: 401 → RFC 9728 → RFC 8414 →
 * anonymous registration → sign-in and consent in Chromium → code at a loopback address → token
 * (PKCE, resource) → the tool. Then a token for another resource is refused, and refresh works.
 */

t.setTimeout(300_000);

/**
 * The person's part of the SDK's redirect step, in Chromium: Latchkey's sign-in, then Allow; the
 * browser lands at the client's loopback address. Returns the consent page's text.
 */
async function signInAndAllow(page: Page, authorizationUrl: URL, user: { username: string; password: string }): Promise<string> {
  await page.goto(authorizationUrl.href);
  await signIn(page, user.username, user.password);
  await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
  const text = await page.locator('main').innerText();
  await consent(page, 'Allow');
  await page.getByText('Signed in. You can close this tab').waitFor();
  return text;
}

if (requireChromium(t))
  t.test('an MCP client signs in through Latchkey and calls the tool', async (t) => {
    const latchkey = await startServer(t, { env: { REGISTRATION: 'open' } });
    const mcp = await startMcpServer({ issuer: latchkey.url });
    t.teardown(() => mcp.close());
    await latchkey.app.resources.create({ uri: mcp.url, name: 'Example MCP server', scope: TOOL_SCOPE });
    const user = await createUser(latchkey.app);
    const browser = await openBrowser(t);
    const { page } = browser;

    const anonymous = await fetch(mcp.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    t.equal(anonymous.status, 401, 'the MCP server wants a token');
    t.equal(anonymous.headers.get('www-authenticate'), `Bearer resource_metadata="${mcp.metadataUrl}", scope="${TOOL_SCOPE}"`);
    const metadata = await json(fetch(mcp.metadataUrl));
    t.same(metadata.authorization_servers, [latchkey.url], 'its RFC 9728 metadata names Latchkey');

    let consentText = '';
    let authorizationUrl: URL | undefined;
    let redirects = 0;
    const session = await connectWithOAuth(new URL(mcp.url), async (url) => {
      redirects++;
      authorizationUrl = url;
      consentText = await signInAndAllow(page, url, user);
    });
    t.teardown(() => session.close());

    t.ok(authorizationUrl, 'the SDK sent the person to Latchkey');
    t.equal(authorizationUrl!.origin + authorizationUrl!.pathname, `${latchkey.url}/oauth/authorize`);
    t.equal(authorizationUrl!.searchParams.get('resource'), mcp.url, 'resource at authorize');
    t.equal(authorizationUrl!.searchParams.get('code_challenge_method'), 'S256', 'PKCE');
    t.match(consentText, 'you will be sent to 127.0.0.1:', 'the consent page names the redirect host');
    t.match(consentText, 'This application registered itself');
    t.match(consentText, 'Example MCP server', 'and the resource by its name');

    const client = session.provider.clientInformation();
    t.ok(client?.client_id, 'the SDK registered a client');
    const stored = await latchkey.app.provider.Client.find(client!.client_id);
    t.equal((stored as unknown as Record<string, unknown>).latchkey_self_registered, true, 'marked self-registered');

    const first = session.provider.tokens();
    t.ok(first?.refresh_token, 'a refresh token too');
    const claims = decodeJwt(first!.access_token);
    t.equal(claims.aud, mcp.url, 'the access token is for the MCP server');
    t.equal(claims.iss, latchkey.url);
    t.equal(claims.sub, String(user.id));
    t.equal(claims.scope, TOOL_SCOPE);

    const { tools } = await session.client.listTools();
    t.same(
      tools.map((tool) => tool.name),
      ['whoami'],
    );
    const result = await session.client.callTool({ name: 'whoami' });
    t.same(result.content, [{ type: 'text', text: `account ${user.id}, client ${client!.client_id}, scope ${TOOL_SCOPE}` }]);

    t.test('a token for another resource, or not a JWT of this issuer, is refused', async (t) => {
      const machine = await createClient(latchkey.app, {
        client_name: 'machine',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'profile',
      });
      const forApi = await token(latchkey.url, machine, {
        grant_type: 'client_credentials',
        resource: `${latchkey.url}/api`,
        scope: 'profile',
      });
      t.equal(forApi.status, 200);
      t.equal(decodeJwt(forApi.body.access_token).aud, `${latchkey.url}/api`);
      const opaque = await token(latchkey.url, machine, { grant_type: 'client_credentials', scope: 'profile' });
      for (const [what, presented] of [
        ['a JWT for Latchkey API', forApi.body.access_token as string],
        ['an opaque Latchkey token', opaque.body.access_token as string],
      ] as const) {
        const res = await fetch(mcp.url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${presented}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        });
        t.equal(res.status, 401, what);
        t.match(res.headers.get('www-authenticate'), /error="invalid_token"/, what);
      }
    });

    t.test('when the access token is no longer good, the SDK refreshes it and carries on', async (t) => {
      const before = session.provider.tokens()!;
      session.provider.saveTokens({ ...before, access_token: 'no-longer-valid' });
      const again = await session.client.callTool({ name: 'whoami' });
      t.match(again.content, [{ type: 'text', text: /^account / }], 'the tool answers after the refresh');
      const after = session.provider.tokens()!;
      t.not(after.access_token, 'no-longer-valid', 'a new access token');
      t.not(after.refresh_token, before.refresh_token, 'the refresh token was rotated');
      t.equal(decodeJwt(after.access_token).aud, mcp.url, 'still for the MCP server (resource sent at refresh)');
      t.equal(redirects, 1, 'without sending the person to Latchkey again');
    });
  });

if (requireChromium(t))
  t.test('an MCP client described by a Client ID Metadata Document signs in without registering', async (t) => {
    // The document is served over https on loopback with a certificate made for this run: the
    // guarded fetcher trusts it and reaches this host only because the test lists it.
    let document: Record<string, unknown> = {};
    const host = await metadataHost(t, { '/client.json': () => ({ body: JSON.stringify(document) }) });
    const latchkey = await startServer(t, {
      env: { REGISTRATION: 'off', CLIENT_METADATA_ALLOW_HOSTS: host.host },
      config: { metadataFetch: { allowHosts: [host.host], timeoutMs: 5000, ca: host.cert } },
    });
    const mcp = await startMcpServer({ issuer: latchkey.url });
    t.teardown(() => mcp.close());
    await latchkey.app.resources.create({ uri: mcp.url, name: 'Example MCP server', scope: TOOL_SCOPE });
    const user = await createUser(latchkey.app);
    const { page } = await openBrowser(t);
    const clientId = `${host.base}/client.json`;

    let consentText = '';
    const session = await connectWithOAuth(
      new URL(mcp.url),
      async (url) => {
        t.equal(url.searchParams.get('client_id'), clientId, 'the document URL is the client_id');
        t.equal(url.searchParams.get('resource'), mcp.url, 'resource at authorize');
        consentText = await signInAndAllow(page, url, user);
      },
      {
        clientMetadataUrl: (redirectUrl) => {
          document = {
            client_id: clientId,
            client_name: 'MCP client of its own',
            redirect_uris: [redirectUrl],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
          };
          return clientId;
        },
      },
    );
    t.teardown(() => session.close());

    t.ok(host.requested.includes('/client.json'), 'Latchkey fetched the document');
    t.equal(session.provider.clientInformation()?.client_id, clientId, 'no registration: the URL is the client');
    t.match(consentText, 'Allow MCP client of its own to use your account?');
    t.match(consentText, 'This application registered itself', 'consent says nobody vetted it');
    const claims = decodeJwt(session.provider.tokens()!.access_token);
    t.equal(claims.aud, mcp.url);
    t.equal(claims.client_id, clientId);
    const result = await session.client.callTool({ name: 'whoami' });
    t.same(result.content, [{ type: 'text', text: `account ${user.id}, client ${clientId}, scope ${TOOL_SCOPE}` }]);
  });
