import t from 'tap';
import { sql } from 'kysely';
import { sha256 } from '../src/crypto/hash.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { codeFor, pkce } from './helpers/grant-flows.js';
import { apiMe, post, token } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

const authorizeUrl = (base: string, params: Record<string, string>) => `${base}/oauth/authorize?${new URLSearchParams(params)}`;
const S256_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // RFC 7636 appendix B

/** The authorization endpoint as a browser meets it: HTML accepted, redirects not followed. */
const browse = (target: string) => fetch(target, { redirect: 'manual', headers: { accept: 'text/html' } });

t.test('attacks the standards name, before anyone signs in', async (t) => {
  const { url, app } = await startServer(t);
  const seedClient = await createClient(app);
  const twoUris = await createClient(app, { redirect_uris: ['https://app.example/cb', 'https://app.example/other'] });
  const publicClient = await createClient(app, {
    redirect_uris: ['https://app.example/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
  });

  t.test('an unregistered redirect URI is never redirected to: an error page instead', async (t) => {
    const lookalikes = [
      'https://evil.example/',
      'https://authlib.org/evil',
      'https://authlib.org',
      'https://authlib.org:8443/',
      'http://authlib.org/',
      'https://authlib.org/?next=https://evil.example/',
      'https://authlib.org/#x',
      'https://AUTHLIB.org.evil.example/',
      'https://authlib.org@evil.example/',
    ];
    for (const redirectUri of lookalikes) {
      const res = await browse(
        authorizeUrl(url, { response_type: 'code', client_id: seedClient.clientId, scope: 'profile', redirect_uri: redirectUri }),
      );
      t.equal(res.status, 400, redirectUri);
      t.notOk(res.headers.get('location'), `${redirectUri}: no redirect`);
      const html = await res.text();
      t.match(html, /latchkey\.css/, `${redirectUri}: our error page`);
      t.notMatch(html, /evil\.example/, `${redirectUri}: the page does not link to it`);
    }
  });

  t.test('the redirect URI may be omitted only when exactly one is registered', async (t) => {
    const single = await browse(authorizeUrl(url, { response_type: 'code', client_id: seedClient.clientId, scope: 'profile' }));
    t.equal(single.status, 303);
    t.match(single.headers.get('location'), /^\/interaction\//, "one registered URI: the Authlib example's URL works");

    const ambiguous = await browse(authorizeUrl(url, { response_type: 'code', client_id: twoUris.clientId, scope: 'profile' }));
    t.equal(ambiguous.status, 400, 'two registered URIs: the request must say which');
    t.notOk(ambiguous.headers.get('location'));

    const exact = await browse(
      authorizeUrl(url, {
        response_type: 'code',
        client_id: twoUris.clientId,
        scope: 'profile',
        redirect_uri: 'https://app.example/other',
      }),
    );
    t.equal(exact.status, 303, 'an exact match of either is accepted');
  });

  t.test('an unknown client is an error page, never a redirect', async (t) => {
    const res = await browse(
      authorizeUrl(url, { response_type: 'code', client_id: 'no-such-client', scope: 'profile', redirect_uri: 'https://evil.example/' }),
    );
    t.equal(res.status, 400);
    t.notOk(res.headers.get('location'));
  });

  t.test('a public client without PKCE is refused', async (t) => {
    const res = await browse(
      authorizeUrl(url, { response_type: 'code', client_id: publicClient.clientId, scope: 'profile', state: 'xyz' }),
    );
    t.equal(res.status, 303);
    const target = new URL(res.headers.get('location')!);
    t.equal(`${target.origin}${target.pathname}`, 'https://app.example/cb', 'told at its registered redirect URI');
    t.equal(target.searchParams.get('error'), 'invalid_request');
    t.match(target.searchParams.get('error_description'), /PKCE/);
    t.equal(target.searchParams.get('state'), 'xyz');
    t.notOk(target.searchParams.get('code'));

    const withPkce = await browse(
      authorizeUrl(url, {
        response_type: 'code',
        client_id: publicClient.clientId,
        scope: 'profile',
        code_challenge: S256_CHALLENGE,
        code_challenge_method: 'S256',
      }),
    );
    t.match(withPkce.headers.get('location'), /^\/interaction\//, 'with S256 it may proceed');
  });

  t.test('PKCE "plain" is refused, for every client', async (t) => {
    for (const client of [publicClient, seedClient]) {
      const res = await browse(
        authorizeUrl(url, {
          response_type: 'code',
          client_id: client.clientId,
          scope: 'profile',
          code_challenge: 'a'.repeat(43),
          code_challenge_method: 'plain',
        }),
      );
      const target = new URL(res.headers.get('location')!);
      t.equal(target.searchParams.get('error'), 'invalid_request');
      t.match(target.searchParams.get('error_description'), /code_challenge_method/);
    }
  });

  t.test('implicit for a client not registered for it is refused', async (t) => {
    for (const responseType of ['token', 'id_token token']) {
      const res = await browse(
        authorizeUrl(url, { response_type: responseType, client_id: seedClient.clientId, scope: 'openid profile', nonce: 'n' }),
      );
      const target = new URL(res.headers.get('location')!);
      t.equal(`${target.origin}${target.pathname}`, 'https://authlib.org/');
      const fragment = new URLSearchParams(target.hash.slice(1));
      t.ok(fragment.get('error'), `${responseType}: ${fragment.get('error')}`);
      t.notOk(fragment.get('access_token'));
    }
  });
});

t.test('attacks on codes and tokens, after a person signed in', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app);
  const auth = { id: client.clientId, secret: client.clientSecret };
  const exchange = (code: string, fields: Record<string, string> = {}, who = client) =>
    token(url, who, { grant_type: 'authorization_code', code, ...fields });
  const introspect = async (value: string) => (await post(`${url}/oauth/introspect`, { token: value }, { basicAuth: auth })).body;

  t.test('code replay: the second use fails and revokes what the first use got', async (t) => {
    const code = await codeFor(url, user, { client_id: client.clientId, scope: 'profile' });
    const first = await exchange(code);
    t.equal(first.status, 200);
    t.equal((await apiMe(url, first.body.access_token)).status, 200);

    const second = await exchange(code);
    t.equal(second.status, 400);
    t.equal(second.body.error, 'invalid_grant');
    t.notOk(second.body.access_token);

    t.equal((await apiMe(url, first.body.access_token)).status, 401, 'the first access token is revoked');
    t.equal((await introspect(first.body.access_token)).active, false);
    t.equal((await introspect(first.body.refresh_token)).active, false, 'so is the first refresh token');
    const refreshed = await token(url, client, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    t.equal(refreshed.body.error, 'invalid_grant');
  });

  t.test('refresh token reuse after rotation revokes the grant', async (t) => {
    const code = await codeFor(url, user, { client_id: client.clientId, scope: 'profile' });
    const issued = (await exchange(code)).body;
    const rotated = (await token(url, client, { grant_type: 'refresh_token', refresh_token: issued.refresh_token })).body;
    t.ok(rotated.refresh_token);
    const reuse = await token(url, client, { grant_type: 'refresh_token', refresh_token: issued.refresh_token });
    t.equal(reuse.body.error, 'invalid_grant');
    t.equal((await apiMe(url, rotated.access_token)).status, 401, 'tokens of the rotation are revoked');
    t.equal((await token(url, client, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token })).body.error, 'invalid_grant');
  });

  t.test('PKCE mismatch: a wrong or missing verifier gets nothing', async (t) => {
    const { challenge } = pkce();
    const code = await codeFor(url, user, {
      client_id: client.clientId,
      scope: 'profile',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const wrong = await exchange(code, { code_verifier: pkce().verifier });
    t.equal(wrong.status, 400);
    t.equal(wrong.body.error, 'invalid_grant');
    const missing = await exchange(code);
    t.equal(missing.status, 400);
    t.equal(missing.body.error, 'invalid_grant');
    t.notOk(wrong.body.access_token || missing.body.access_token);
  });

  t.test('a code is bound to its client', async (t) => {
    const thief = await createClient(app);
    const code = await codeFor(url, user, { client_id: client.clientId, scope: 'profile' });
    const stolen = await exchange(code, {}, thief);
    t.equal(stolen.status, 400);
    t.equal(stolen.body.error, 'invalid_grant');
    t.notOk(stolen.body.access_token);
    const forged = await token(url, { clientId: client.clientId, clientSecret: 'guessed' }, { grant_type: 'authorization_code', code });
    t.equal(forged.status, 401, 'and naming its client without the secret fails authentication');
  });

  t.test('a code is bound to its redirect URI', async (t) => {
    const twoUris = await createClient(app, { redirect_uris: ['https://app.example/cb', 'https://app.example/other'] });
    const code = await codeFor(url, user, { client_id: twoUris.clientId, scope: 'profile', redirect_uri: 'https://app.example/cb' });
    const other = await exchange(code, { redirect_uri: 'https://app.example/other' }, twoUris);
    t.equal(other.status, 400);
    t.equal(other.body.error, 'invalid_grant');
    const omitted = await exchange(code, {}, twoUris);
    t.equal(omitted.status, 400, 'two registered: the exchange must name it');
    t.notOk(other.body.access_token || omitted.body.access_token);
    const right = await exchange(code, { redirect_uri: 'https://app.example/cb' }, twoUris);
    t.equal(right.status, 200, 'the exact one works');
  });

  t.test('an expired code is refused', async (t) => {
    const code = await codeFor(url, user, { client_id: client.clientId, scope: 'profile' });
    // A minute passes (codes live 60 seconds): the stored code's expiry moves into the past.
    const past = Math.floor(Date.now() / 1000) - 1;
    const updated = await app.db
      .updateTable('oidc_payloads')
      .set({ expires_at: new Date(past * 1000), payload: sql`jsonb_set(payload, '{exp}', to_jsonb(${past}::int))` })
      .where('model', '=', 'AuthorizationCode')
      .where('key', '=', sha256(code))
      .executeTakeFirst();
    t.equal(Number(updated.numUpdatedRows), 1);
    const res = await exchange(code);
    t.equal(res.status, 400);
    t.equal(res.body.error, 'invalid_grant');
    t.notOk(res.body.access_token);
  });
});
