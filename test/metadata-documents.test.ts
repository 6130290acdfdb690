import t from 'tap';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { createUser } from './helpers/fixtures.js';
import { authorizeUrl, pkce, returned } from './helpers/grant-flows.js';
import { json } from './helpers/http.js';
import { metadataHost, type Answer } from './helpers/metadata-host.js';
import { startServer, type TestServer } from './helpers/server.js';

const REDIRECT_URI = 'https://client.example/callback';

/** A metadata document for the URL it is served at (as the draft has it), with overrides. */
const document =
  (overrides: Record<string, unknown> = {}): Answer =>
  (url) => ({
    body: JSON.stringify({
      client_id: url.href,
      client_name: 'Agent of its own',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'openid profile',
      ...overrides,
    }),
  });

const answers: Record<string, Answer> = {
  '/good': document(),
  '/big': document({ padding: 'x'.repeat(6 * 1024) }),
  '/slow': (url) => ({ ...document()(url, ''), delayMs: 3000 }),
  '/wrong-id': document({ client_id: 'https://elsewhere.example/client' }),
  '/not-json': () => ({ headers: { 'content-type': 'text/html' }, body: '<html>hello</html>' }),
  '/redirect': () => ({ status: 302, headers: { location: 'https://10.1.2.3/good' } }),
  '/confidential': document({ token_endpoint_auth_method: 'client_secret_basic' }),
  '/implicit': document({ grant_types: ['implicit'], response_types: ['token'] }),
};

async function authorizeError(server: TestServer, clientId: string) {
  const { challenge } = pkce();
  const res = await fetch(
    authorizeUrl(server.url, {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
    { redirect: 'manual', headers: { accept: 'text/html' } },
  );
  return { status: res.status, location: res.headers.get('location'), text: mainText({ html: await res.text() } as never) };
}

t.test('Client ID Metadata Documents', async (t) => {
  const host = await metadataHost(t, answers);
  const server = await startServer(t, {
    env: { CLIENT_METADATA_ALLOW_HOSTS: host.host },
    config: { metadataFetch: { allowHosts: [host.host], timeoutMs: 1000, ca: host.cert } },
  });
  const person = await createUser(server.app);

  t.test('discovery says so', async (t) => {
    const discovery = await json(fetch(`${server.url}/.well-known/openid-configuration`));
    t.equal(discovery.client_id_metadata_document_supported, true);
  });

  t.test('a metadata-document client completes the code flow with PKCE', async (t) => {
    const clientId = `${host.base}/good`;
    const { verifier, challenge } = pkce();
    const browser = new BrowserSession(server.url);
    let page = await browser.get(
      authorizeUrl(server.url, {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        scope: 'openid profile',
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    page = await browser.submit(page, 'Sign in', { Username: person.username, Password: person.password });
    const consent = mainText(page);
    t.match(consent, 'Allow Agent of its own to use your account?');
    t.match(consent, /you will be sent to client\.example\b/, 'the redirect host, named');
    t.match(consent, 'This application registered itself: Latchkey has not verified it');
    const back = returned(await browser.submit(page, 'Allow'));
    t.equal(back.origin + back.pathname, REDIRECT_URI);
    const code = back.searchParams.get('code');
    t.ok(code, 'a code');

    const token = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: code!,
        redirect_uri: REDIRECT_URI,
        client_id: clientId,
        code_verifier: verifier,
      }),
    });
    const body = await json(token);
    t.equal(token.status, 200, JSON.stringify(body));
    t.ok(body.access_token && body.id_token && body.refresh_token, 'access, ID and refresh tokens');
    t.equal(host.requested.filter((p) => p === '/good').length, 1, 'fetched once, then served from the cache');

    const me = await json(fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${body.access_token}` } }));
    t.equal(me.username, person.username);
  });

  t.test('a redirect URI not in the document is refused, exactly matched', async (t) => {
    const res = await fetch(
      authorizeUrl(server.url, {
        response_type: 'code',
        client_id: `${host.base}/good`,
        redirect_uri: `${REDIRECT_URI}/other`,
        scope: 'openid',
      }),
      { redirect: 'manual' },
    );
    t.equal(res.status, 400);
    t.match(await res.text(), 'redirect_uri');
  });

  const refused: [string, string, string | undefined][] = [
    ['an oversize document', `${host.base}/big`, '/big'],
    ['a slow document', `${host.base}/slow`, '/slow'],
    ['a document naming another client_id', `${host.base}/wrong-id`, '/wrong-id'],
    ['a document that is not JSON', `${host.base}/not-json`, '/not-json'],
    ['a redirect (to a private address)', `${host.base}/redirect`, '/redirect'],
    ['a confidential client', `${host.base}/confidential`, '/confidential'],
    ['an implicit client', `${host.base}/implicit`, '/implicit'],
    ['an http URL', `http://${host.host}/good`, undefined],
    ['loopback on a port not allow-listed', 'https://127.0.0.1:1/good', undefined],
    ['a DNS name resolving to loopback', `https://localhost:${new URL(host.base).port}/good`, undefined],
    ['IPv6 loopback', `https://[::1]:${new URL(host.base).port}/good`, undefined],
    ['IPv4-mapped IPv6 loopback', `https://[::ffff:127.0.0.1]:${new URL(host.base).port}/good`, undefined],
    ['a private address', 'https://10.1.2.3/good', undefined],
    ['a link-local address', 'https://169.254.169.254/latest', undefined],
    ['a CGNAT address', 'https://100.64.0.1/good', undefined],
  ];
  for (const [what, clientId, path] of refused) {
    t.test(`refused: ${what}`, async (t) => {
      const before = host.requested.length;
      const res = await authorizeError(server, clientId);
      t.equal(res.status, 400, 'a clean 400');
      t.equal(res.location, null, 'no redirect to the client');
      t.match(res.text, 'This application is not known here.');
      t.match(res.text, 'Error code: invalid_client');
      if (path) t.same(host.requested.slice(before), [path], 'the document was asked for, once');
      else t.equal(host.requested.length, before, 'nothing reached the test host');
      const again = await authorizeError(server, clientId);
      t.equal(again.status, 400, 'refused again');
      t.match(again.text, 'Error code: invalid_client');
      if (path) t.equal(host.requested.length, before + 1, 'the refusal is remembered: not fetched again');
    });
  }

  t.test('a bad document at the token endpoint: JSON invalid_client', async (t) => {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'x',
        redirect_uri: REDIRECT_URI,
        client_id: `${host.base}/wrong-id`,
        code_verifier: 'v'.repeat(43),
      }),
    });
    t.ok(res.status >= 400 && res.status < 500, `a 4xx (${res.status})`);
    t.match(res.headers.get('content-type'), /json/);
    t.equal((await json(res)).error, 'invalid_client');
  });
});

t.test('CLIENT_ID_METADATA_DOCUMENTS=false: such a client_id is unknown', async (t) => {
  const host = await metadataHost(t, answers);
  const server = await startServer(t, {
    env: { CLIENT_ID_METADATA_DOCUMENTS: 'false', CLIENT_METADATA_ALLOW_HOSTS: host.host },
    config: { metadataFetch: { allowHosts: [host.host], timeoutMs: 1000, ca: host.cert } },
  });
  const discovery = await json(fetch(`${server.url}/.well-known/openid-configuration`));
  t.notOk(discovery.client_id_metadata_document_supported);
  const res = await authorizeError(server, `${host.base}/good`);
  t.equal(res.status, 400);
  t.match(res.text, 'Error code: invalid_client');
  t.same(host.requested, [], 'nothing fetched');
});
