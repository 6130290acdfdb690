import t from 'tap';
import { createClient } from './helpers/fixtures.js';
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
      const res = await browse(authorizeUrl(url, { response_type: 'code', client_id: seedClient.clientId, scope: 'profile', redirect_uri: redirectUri }));
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
    t.match(single.headers.get('location'), /^\/interaction\//, 'one registered URI: the seeds\' URL works');

    const ambiguous = await browse(authorizeUrl(url, { response_type: 'code', client_id: twoUris.clientId, scope: 'profile' }));
    t.equal(ambiguous.status, 400, 'two registered URIs: the request must say which');
    t.notOk(ambiguous.headers.get('location'));

    const exact = await browse(authorizeUrl(url, { response_type: 'code', client_id: twoUris.clientId, scope: 'profile', redirect_uri: 'https://app.example/other' }));
    t.equal(exact.status, 303, 'an exact match of either is accepted');
  });

  t.test('an unknown client is an error page, never a redirect', async (t) => {
    const res = await browse(authorizeUrl(url, { response_type: 'code', client_id: 'no-such-client', scope: 'profile', redirect_uri: 'https://evil.example/' }));
    t.equal(res.status, 400);
    t.notOk(res.headers.get('location'));
  });

  t.test('a public client without PKCE is refused', async (t) => {
    const res = await browse(authorizeUrl(url, { response_type: 'code', client_id: publicClient.clientId, scope: 'profile', state: 'xyz' }));
    t.equal(res.status, 303);
    const target = new URL(res.headers.get('location')!);
    t.equal(`${target.origin}${target.pathname}`, 'https://app.example/cb', 'told at its registered redirect URI');
    t.equal(target.searchParams.get('error'), 'invalid_request');
    t.match(target.searchParams.get('error_description'), /PKCE/);
    t.equal(target.searchParams.get('state'), 'xyz');
    t.notOk(target.searchParams.get('code'));

    const withPkce = await browse(authorizeUrl(url, { response_type: 'code', client_id: publicClient.clientId, scope: 'profile', code_challenge: S256_CHALLENGE, code_challenge_method: 'S256' }));
    t.match(withPkce.headers.get('location'), /^\/interaction\//, 'with S256 it may proceed');
  });

  t.test('PKCE "plain" is refused, for every client', async (t) => {
    for (const client of [publicClient, seedClient]) {
      const res = await browse(authorizeUrl(url, { response_type: 'code', client_id: client.clientId, scope: 'profile', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }));
      const target = new URL(res.headers.get('location')!);
      t.equal(target.searchParams.get('error'), 'invalid_request');
      t.match(target.searchParams.get('error_description'), /code_challenge_method/);
    }
  });

  t.test('implicit for a client not registered for it is refused', async (t) => {
    for (const responseType of ['token', 'id_token token']) {
      const res = await browse(authorizeUrl(url, { response_type: responseType, client_id: seedClient.clientId, scope: 'openid profile', nonce: 'n' }));
      const target = new URL(res.headers.get('location')!);
      t.equal(`${target.origin}${target.pathname}`, 'https://authlib.org/');
      const fragment = new URLSearchParams(target.hash.slice(1));
      t.ok(fragment.get('error'), `${responseType}: ${fragment.get('error')}`);
      t.notOk(fragment.get('access_token'));
    }
  });
});
