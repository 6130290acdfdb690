import { readFile } from 'node:fs/promises';
import t from 'tap';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { enablePlainImplicit } from '../src/oidc/extensions/implicit.js';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { returned, signInAndConsent } from './helpers/grant-flows.js';
import { apiMe, discovery, post } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

const REDIRECT = 'https://spa.example/callback';

const implicitClient = {
  client_name: 'Single-page app',
  redirect_uris: [REDIRECT],
  grant_types: ['implicit'],
  response_types: ['token', 'id_token token'],
  scope: 'openid profile',
  token_endpoint_auth_method: 'none',
};

const authorizeUrl = (base: string, params: Record<string, string>) => `${base}/oauth/authorize?${new URLSearchParams(params)}`;

t.test('implicit, enabled (the default)', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app, implicitClient);
  const browser = new BrowserSession(url);

  t.test('the mechanism is still in this oidc-provider (fails loudly if an upgrade removes it)', async (t) => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
    t.match(
      pkg.dependencies['oidc-provider'],
      /^\d+\.\d+\.\d+$/,
      'oidc-provider is pinned to an exact version: the implicit switch reaches into its internals',
    );
    const { configuration } = instance(app.provider) as { configuration?: { responseTypes?: string[]; grantTypes?: Set<string> } };
    t.ok(Array.isArray(configuration?.responseTypes), 'the provider still keeps its response types where src/oidc/implicit.ts looks');
    t.ok(configuration?.responseTypes?.includes('token'), 'response_type=token was added after construction');
    t.ok(configuration?.grantTypes?.has('implicit'), 'the implicit grant is announced');

    const disco = await discovery(url);
    t.ok(disco.response_types_supported.includes('token'), 'discovery offers response_type=token');
    t.ok(disco.response_types_supported.includes('id_token token'), 'and id_token token');
    t.ok(disco.grant_types_supported.includes('implicit'), 'grant_types_supported lists implicit');

    for (const responseType of ['token', 'id_token token']) {
      const res = await fetch(
        authorizeUrl(url, {
          response_type: responseType,
          client_id: client.clientId,
          scope: 'openid profile',
          nonce: 'n-0S6_WzA2Mj',
          state: 's',
        }),
        { redirect: 'manual' },
      );
      t.equal(res.status, 303, `${responseType}: accepted`);
      t.match(res.headers.get('location'), /^\/interaction\/[\w-]+$/, `${responseType}: on to sign-in, not an error`);
    }
  });

  t.test('response_type=token (OAuth 2.0 §4.2), as the Authlib example uses it', async (t) => {
    const page = await signInAndConsent(
      browser,
      authorizeUrl(url, { response_type: 'token', client_id: client.clientId, scope: 'profile', state: 'st-1' }),
      user,
    );
    const back = returned(page);
    t.equal(`${back.origin}${back.pathname}`, REDIRECT);
    t.equal(back.search, '', 'nothing in the query: the token never reaches a server log');
    const fragment = new URLSearchParams(back.hash.slice(1));
    t.match(Object.fromEntries(fragment), {
      access_token: /^[\w-]{43,}$/,
      token_type: 'Bearer',
      expires_in: '3600',
      scope: 'profile',
      state: 'st-1',
    });
    t.notOk(fragment.get('refresh_token'), 'never a refresh token from the authorization endpoint');
    t.notOk(fragment.get('code'));
    t.notOk(fragment.get('id_token'), 'no openid, no ID token');
    t.same((await apiMe(url, fragment.get('access_token')!)).body, { id: user.id, username: user.username });
  });

  t.test('response_type=id_token token: an ID token bound to the nonce and to the access token', async (t) => {
    const page = await signInAndConsent(
      browser,
      authorizeUrl(url, {
        response_type: 'id_token token',
        client_id: client.clientId,
        scope: 'openid profile',
        nonce: 'nonce-42',
        state: 'st-2',
      }),
      user,
    );
    const fragment = new URLSearchParams(returned(page).hash.slice(1));
    const accessToken = fragment.get('access_token')!;
    t.ok(accessToken);
    const jwks = createRemoteJWKSet(new URL((await discovery(url)).jwks_uri));
    const { payload } = await jwtVerify(fragment.get('id_token')!, jwks, { issuer: url, audience: client.clientId });
    t.equal(payload.nonce, 'nonce-42');
    t.equal(payload.sub, String(user.id));
    const digest = createHash('sha256').update(accessToken).digest();
    t.equal(payload.at_hash, digest.subarray(0, 16).toString('base64url'), 'at_hash binds the access token');
    t.equal(fragment.get('state'), 'st-2');

    const info = await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
    t.same(await info.json(), { sub: String(user.id), preferred_username: user.username, name: user.username });
  });

  t.test('id_token token without a nonce is refused', async (t) => {
    const res = await fetch(authorizeUrl(url, { response_type: 'id_token token', client_id: client.clientId, scope: 'openid profile' }), {
      redirect: 'manual',
    });
    const fragment = new URLSearchParams(new URL(res.headers.get('location')!).hash.slice(1));
    t.equal(fragment.get('error'), 'invalid_request');
    t.match(fragment.get('error_description'), /nonce/);
  });

  t.test('the public client cannot use the token endpoint for codes or passwords', async (t) => {
    const res = await post(
      `${url}/oauth/token`,
      { grant_type: 'password', username: user.username, password: user.password, client_id: client.clientId },
      { encoding: 'urlencoded' },
    );
    t.equal(res.status, 400);
    t.notOk(res.body.access_token);
  });

  t.test('registering for implicit: public clients with https redirect URIs only', async (t) => {
    await t.rejects(
      createClient(app, { ...implicitClient, token_endpoint_auth_method: 'client_secret_basic' }),
      'a confidential client may not use implicit',
    );
    await t.rejects(createClient(app, { ...implicitClient, redirect_uris: ['http://spa.example/callback'] }), 'nor an http redirect URI');
  });

  t.test('implicit for a client not registered for it is refused', async (t) => {
    const codeClient = await createClient(app);
    const res = await fetch(authorizeUrl(url, { response_type: 'token', client_id: codeClient.clientId, scope: 'profile', state: 's' }), {
      redirect: 'manual',
    });
    t.equal(res.status, 303);
    const target = new URL(res.headers.get('location')!);
    t.equal(`${target.origin}${target.pathname}`, 'https://authlib.org/', 'the error goes to the registered redirect URI only');
    const fragment = new URLSearchParams(target.hash.slice(1));
    t.equal(fragment.get('error'), 'invalid_request');
    t.match(fragment.get('error_description'), /response_type/);
    t.notOk(fragment.get('access_token'));
  });
});

t.test('enablePlainImplicit refuses to run on internals it does not recognise', async (t) => {
  t.throws(() => enablePlainImplicit({} as never), /oidc-provider internals changed/);
});

t.test('IMPLICIT_GRANT=false turns implicit off entirely', async (t) => {
  const { url, app, fresh } = await startServer(t);
  const registered = await createClient(app, implicitClient);
  const codeClient = await createClient(app);
  await app.close();

  const off = await startServer(t, { fresh, env: { IMPLICIT_GRANT: 'false' } });
  const disco = await discovery(off.url);
  t.notOk(disco.grant_types_supported.includes('implicit'), 'discovery no longer lists implicit');
  t.same(
    disco.response_types_supported.filter((type: string) => type.split(' ').includes('token') || type.split(' ').includes('id_token')),
    [],
    'no response type issues a token from the authorization endpoint',
  );
  t.ok(disco.grant_types_supported.includes('password'), 'the other grants stay');

  const asked = await fetch(authorizeUrl(off.url, { response_type: 'token', client_id: codeClient.clientId, scope: 'profile' }), {
    redirect: 'manual',
  });
  const fragment = new URLSearchParams(new URL(asked.headers.get('location')!).hash.slice(1));
  t.equal(fragment.get('error'), 'unsupported_response_type');

  const before = await fetch(authorizeUrl(off.url, { response_type: 'token', client_id: registered.clientId, scope: 'profile' }), {
    redirect: 'manual',
    headers: { accept: 'text/html' },
  });
  t.equal(before.status, 400, 'a client registered for implicit earlier is not served');
  t.notOk(before.headers.get('location'), 'and nobody is redirected');

  await t.rejects(createClient(off.app, implicitClient), 'no new implicit client can be registered');
  t.not(url, off.url);
});
