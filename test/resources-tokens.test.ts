import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import t from 'tap';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { REDIRECT_URI } from './helpers/code-flow.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { authorizeUrl, codeFor, pkce, returned, signInAndConsent } from './helpers/grant-flows.js';
import { apiMe, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

const TOOLS = 'https://tools.example/mcp';
const FILES = 'http://127.0.0.1:9/files';
const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

t.test('tokens for protected resources (RFC 8707, RFC 9068)', async (t) => {
  const { url, app } = await startServer(t);
  const api = `${url}/api`;
  await app.resources.create({ uri: TOOLS, name: 'Tool server', scope: 'tools:read tools:write' });
  await app.resources.create({ uri: FILES, name: 'File store', scope: 'files:read' });
  const jwks = createRemoteJWKSet(new URL(`${url}/oauth/jwks`));
  const verify = (jwt: string, audience: string) => jwtVerify(jwt, jwks, { issuer: url, audience, typ: 'at+jwt' });

  const machine = await createClient(app, {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'profile tools:read tools:write files:read',
  });
  const auth = { id: machine.clientId, secret: machine.clientSecret };

  t.test('client_credentials with resource: a JWT access token with every RFC 9068 claim', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', resource: TOOLS, scope: 'tools:read' });
    t.equal(res.status, 200);
    t.equal(res.body.token_type, 'Bearer');
    t.equal(res.body.scope, 'tools:read');
    t.equal(res.body.expires_in, 300, 'RESOURCE_TOKEN_TTL by default');
    const header = decodeProtectedHeader(res.body.access_token);
    t.equal(header.typ, 'at+jwt');
    t.equal(header.alg, 'RS256');
    t.type(header.kid, 'string');
    const { payload } = await verify(res.body.access_token, TOOLS);
    t.same(Object.keys(payload).sort(), ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']);
    t.match(payload, { iss: url, aud: TOOLS, sub: machine.clientId, client_id: machine.clientId, scope: 'tools:read' });
    t.equal(payload.exp! - payload.iat!, 300);
    t.ok(Math.abs(payload.iat! - Date.now() / 1000) < 60, 'issued now');
    t.match(payload.jti, /^[\w-]{16,}$/);
  });

  t.test('an unknown resource is invalid_target', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', resource: 'https://unknown.example/', scope: 'tools:read' });
    t.equal(res.status, 400);
    t.equal(res.body.error, 'invalid_target');
    t.notOk(res.body.access_token);
    const fragment = await token(url, machine, { grant_type: 'client_credentials', resource: `${TOOLS}#x`, scope: 'tools:read' });
    t.equal(fragment.body.error, 'invalid_target', 'a fragment too');
  });

  t.test("the scope of another resource is left out, the resource's own kept", async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', resource: TOOLS, scope: 'tools:write files:read profile' });
    t.equal(res.status, 200);
    t.equal(res.body.scope, 'tools:write');
    const { payload } = await verify(res.body.access_token, TOOLS);
    t.equal(payload.scope, 'tools:write');
  });

  t.test("a client not registered for a resource's scope gets invalid_scope", async (t) => {
    const narrow = await createClient(app, {
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'files:read',
    });
    const res = await token(url, narrow, { grant_type: 'client_credentials', resource: TOOLS, scope: 'tools:read' });
    t.equal(res.status, 400);
    t.equal(res.body.error, 'invalid_scope');
  });

  t.test('without resource nothing changes: an opaque token', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', scope: 'profile' });
    t.equal(res.status, 200);
    t.notOk(res.body.access_token.includes('.'));
    t.equal(res.body.expires_in, 3600);
  });

  t.test('introspection and revocation of a JWT access token', async (t) => {
    const res = await token(url, machine, { grant_type: 'client_credentials', resource: TOOLS, scope: 'tools:read' });
    const jwt = res.body.access_token as string;
    const { payload } = await verify(jwt, TOOLS);
    const intro = await post(`${url}/oauth/introspect`, { token: jwt }, { basicAuth: auth });
    t.equal(intro.status, 200);
    t.match(intro.body, {
      active: true,
      client_id: machine.clientId,
      scope: 'tools:read',
      aud: TOOLS,
      iss: url,
      exp: payload.exp,
      iat: payload.iat,
    });
    const forged = `${jwt.slice(0, jwt.lastIndexOf('.'))}.${'A'.repeat(342)}`;
    const bad = await post(`${url}/oauth/introspect`, { token: forged }, { basicAuth: auth });
    t.notOk(bad.body.active, 'a bad signature is never active');
    t.same(
      (await post(`${url}/oauth/introspect`, { token: payload.jti as string }, { basicAuth: auth })).body,
      { active: false },
      'nor is the bare jti',
    );
    const revoked = await post(`${url}/oauth/revoke`, { token: jwt }, { basicAuth: auth });
    t.equal(revoked.status, 200);
    t.same((await post(`${url}/oauth/introspect`, { token: jwt }, { basicAuth: auth })).body, { active: false }, 'inactive once revoked');
  });

  t.test('/api/me: a JWT for another resource is refused; a client token for the API has no person', async (t) => {
    const tools = await token(url, machine, { grant_type: 'client_credentials', resource: TOOLS, scope: 'tools:read' });
    const other = await apiMe(url, tools.body.access_token);
    t.equal(other.status, 401);
    t.equal(other.body.error, 'invalid_token');
    t.match(other.headers.get('www-authenticate'), `resource_metadata="${url}/.well-known/oauth-protected-resource/api"`);
    const forApi = await token(url, machine, { grant_type: 'client_credentials', resource: api, scope: 'profile' });
    t.equal(forApi.status, 200);
    const { payload } = await verify(forApi.body.access_token, api);
    t.equal(payload.scope, 'profile');
    const me = await apiMe(url, forApi.body.access_token);
    t.equal(me.status, 403);
    t.equal(me.body.error, 'insufficient_scope');
  });

  t.test('authorization code with resource at authorize, refresh keeps it; /api/me takes a JWT for ISSUER/api', async (t) => {
    const user = await createUser(app);
    const web = await createClient(app, {
      client_name: 'Agent',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid profile tools:read',
    });
    const browser = new BrowserSession(url);
    const { verifier, challenge } = pkce();
    const start = authorizeUrl(url, {
      response_type: 'code',
      client_id: web.clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile tools:read',
      resource: TOOLS,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'one',
    });
    let page = await browser.get(start);
    page = await browser.submit(page, 'Sign in', { Username: user.username, Password: user.password });
    t.ok(browser.hasButton(page, 'Allow'), 'a consent page');
    t.match(
      mainText(page),
      /Access to Tool server \( ?https:\/\/tools\.example\/mcp ?\): tools:read/,
      "the resource's scopes under its name",
    );
    const back = returned(await browser.submit(page, 'Allow'));
    const code = back.searchParams.get('code')!;
    t.ok(code);
    const tokens = await token(url, web, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    t.equal(tokens.status, 200);
    t.equal(tokens.body.scope, 'tools:read');
    t.ok(tokens.body.id_token, 'an id token as ever');
    const { payload } = await verify(tokens.body.access_token, TOOLS);
    t.match(payload, { sub: String(user.id), client_id: web.clientId, scope: 'tools:read', aud: TOOLS });

    const refreshed = await token(url, web, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    t.equal(refreshed.status, 200);
    const again = await verify(refreshed.body.access_token, TOOLS);
    t.match(again.payload, { aud: TOOLS, scope: 'tools:read', sub: String(user.id) }, 'the refreshed token is for the same resource');
    t.not(again.payload.jti, payload.jti);

    // The API as a resource: resource at the token request.
    const apiCode = await codeFor(
      url,
      user,
      { client_id: web.clientId, redirect_uri: REDIRECT_URI, scope: 'openid profile', resource: api, state: 'two' },
      browser,
    );
    const apiTokens = await token(url, web, { grant_type: 'authorization_code', code: apiCode, redirect_uri: REDIRECT_URI, resource: api });
    t.equal(apiTokens.status, 200);
    const apiJwt = apiTokens.body.access_token as string;
    t.match((await verify(apiJwt, api)).payload, { aud: api, scope: 'profile', sub: String(user.id) });
    const me = await apiMe(url, apiJwt);
    t.equal(me.status, 200);
    t.same(me.body, { id: user.id, username: user.username });
    const userinfo = await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${apiJwt}` } });
    t.equal(userinfo.status, 401, 'userinfo refuses a token with an audience');

    await post(`${url}/oauth/revoke`, { token: apiJwt }, { basicAuth: { id: web.clientId, secret: web.clientSecret } });
    const after = await apiMe(url, apiJwt);
    t.equal(after.status, 401, 'a revoked JWT no longer works at /api/me');
    t.equal(after.body.error, 'invalid_token');

    const unknown = await browser.get(
      authorizeUrl(url, {
        response_type: 'code',
        client_id: web.clientId,
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        resource: 'https://nope.example/',
      }),
    );
    t.equal(returned(unknown).searchParams.get('error'), 'invalid_target', 'an unknown resource at authorize is invalid_target');
  });

  t.test('device code with resource', async (t) => {
    const user = await createUser(app);
    const tv = await createClient(app, {
      client_name: 'Console',
      grant_types: [DEVICE_CODE_GRANT],
      response_types: [],
      redirect_uris: [],
      scope: 'files:read',
    });
    const { body } = await post(
      `${url}/oauth/device/auth`,
      { scope: 'files:read', resource: FILES },
      { basicAuth: { id: tv.clientId, secret: tv.clientSecret }, encoding: 'urlencoded' },
    );
    const browser = new BrowserSession(url);
    const input = await browser.get(body.verification_uri_complete);
    const confirm = await browser.post('/oauth/device', { xsrf: hidden(input.html, 'xsrf')!, user_code: body.user_code });
    const login = await browser.post('/oauth/device', {
      xsrf: hidden(confirm.html, 'xsrf')!,
      user_code: hidden(confirm.html, 'user_code')!,
      confirm: 'yes',
    });
    const done = await signInAndConsent(browser, login, user, { consent: 'Allow' });
    t.match(mainText(done), 'Device connected');
    const tokens = await token(url, tv, { grant_type: DEVICE_CODE_GRANT, device_code: body.device_code });
    t.equal(tokens.status, 200);
    t.match((await verify(tokens.body.access_token, FILES)).payload, { aud: FILES, scope: 'files:read', sub: String(user.id) });
  });

  t.test('a resource deleted: invalid_target at once, and clients registered for its scopes still work', async (t) => {
    await app.resources.create({ uri: 'https://gone.example/', name: 'Gone', scope: 'gone:use' });
    const fan = await createClient(app, {
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'profile gone:use',
    });
    t.equal(
      (await token(url, fan, { grant_type: 'client_credentials', resource: 'https://gone.example/', scope: 'gone:use' })).status,
      200,
    );
    t.ok(await app.resources.delete('https://gone.example/'));
    const res = await token(url, fan, { grant_type: 'client_credentials', resource: 'https://gone.example/', scope: 'gone:use' });
    t.equal(res.body.error, 'invalid_target');
    const plain = await token(url, fan, { grant_type: 'client_credentials', scope: 'profile' });
    t.equal(plain.status, 200, 'the client itself is unharmed');
  });

  t.test('registration knows resource scopes, and only those', async (t) => {
    await t.resolves(
      createClient(app, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'tools:read' }),
    );
    await t.rejects(
      createClient(app, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'tools:admin' }),
      /Unknown scope "tools:admin"/,
    );
  });
});

t.test('the API as a protected resource (RFC 9728) and discovery', async (t) => {
  const { url } = await startServer(t);
  const res = await fetch(`${url}/.well-known/oauth-protected-resource/api`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.equal(res.headers.get('access-control-allow-origin'), '*');
  t.same(await res.json(), {
    resource: `${url}/api`,
    authorization_servers: [url],
    scopes_supported: ['profile'],
    bearer_methods_supported: ['header'],
    resource_name: 'Latchkey API',
  });
  const me = await apiMe(url, undefined);
  t.equal(me.status, 401);
  t.match(me.headers.get('www-authenticate'), `resource_metadata="${url}/.well-known/oauth-protected-resource/api"`);
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const doc = (await (await fetch(`${url}${path}`)).json()) as JWTPayload & Record<string, unknown>;
    t.same(doc.code_challenge_methods_supported, ['S256'], `${path}: PKCE`);
    t.equal(doc.authorization_response_iss_parameter_supported, true, `${path}: RFC 9207`);
  }
});
