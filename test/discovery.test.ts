import t from 'tap';
import { json } from './helpers/http.js';
import { startServer } from './helpers/server.js';

t.test('discovery and RFC 8414 metadata', async (t) => {
  const { url } = await startServer(t);
  const oidc = await json(fetch(`${url}/.well-known/openid-configuration`));
  const oauth = await json(fetch(`${url}/.well-known/oauth-authorization-server`));

  t.equal(oidc.issuer, url);
  t.equal(oauth.issuer, url);
  for (const [name, path] of Object.entries({
    authorization_endpoint: '/oauth/authorize',
    token_endpoint: '/oauth/token',
    jwks_uri: '/oauth/jwks',
    userinfo_endpoint: '/oauth/userinfo',
    revocation_endpoint: '/oauth/revoke',
    introspection_endpoint: '/oauth/introspect',
    registration_endpoint: '/oauth/register',
    end_session_endpoint: '/oauth/logout',
  })) {
    t.equal(oidc[name], `${url}${path}`, name);
    t.equal(oauth[name], oidc[name], `${name} is the same in RFC 8414 metadata`);
  }
  for (const [name, value] of Object.entries(oidc)) {
    if (name.endsWith('_endpoint') || name === 'jwks_uri') t.match(value, new RegExp(`^${url}/oauth/`), `${name} under /oauth/`);
  }
  t.same(oidc.code_challenge_methods_supported, ['S256']);
  t.same([...oidc.scopes_supported].sort(), ['email', 'offline_access', 'openid', 'profile']);
  for (const list of ['id_token_signing_alg_values_supported', 'token_endpoint_auth_signing_alg_values_supported']) {
    t.notOk(
      oidc[list].some((alg: string) => alg.startsWith('HS') || alg === 'none'),
      `${list} has no HS* or none`,
    );
  }
  t.notOk(oidc.token_endpoint_auth_methods_supported.includes('client_secret_jwt'));
});

t.test('the JWKS publishes public keys only', async (t) => {
  const { url } = await startServer(t);
  const res = await fetch(`${url}/oauth/jwks`);
  t.equal(res.status, 200);
  const { keys } = await json(res);
  t.same(keys.map((k: { alg: string }) => k.alg).sort(), ['ES256', 'RS256']);
  for (const key of keys) {
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) t.notOk(secret in key, `${key.kid} has no ${secret}`);
    t.notMatch(key.kid, /CHANGE-ME/);
  }
});
