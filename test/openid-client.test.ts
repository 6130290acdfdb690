import t from 'tap';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DEVICE_CODE_GRANT } from '../src/oidc/client-metadata.js';
import { BrowserSession, mainText } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { returned, signInAndConsent } from './helpers/grant-flows.js';
import { apiMe } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

const REDIRECT_URI = 'https://rp.example/callback';
/** The OAuth error code a rejected openid-client call carries (undefined when it did not fail). */
async function oauthError(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return (err as { error?: string }).error ?? String(err);
  }
}

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

/** openid-client talks to our http://127.0.0.1 issuer only when told that plain http is fine here. */
async function relyingParty(issuer: string, clientId: string, secret: string | undefined, auth?: oidc.ClientAuth) {
  return oidc.discovery(new URL(issuer), clientId, secret, auth, { execute: [oidc.allowInsecureRequests] });
}

t.test('a real relying party: openid-client v6', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const registered = await createClient(app, {
    client_name: 'Relying party',
    redirect_uris: [REDIRECT_URI],
    scope: 'openid profile',
    grant_types: ['authorization_code', 'refresh_token'],
  });
  const config = await relyingParty(url, registered.clientId, registered.clientSecret, oidc.ClientSecretBasic(registered.clientSecret!));
  oidc.enableNonRepudiationChecks(config); // openid-client verifies the ID token's signature against the JWKS too
  const browser = new BrowserSession(url);
  let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

  t.test('discovery', async (t) => {
    const meta = config.serverMetadata();
    t.equal(meta.issuer, url);
    t.equal(meta.token_endpoint, `${url}/oauth/token`);
    t.ok(meta.supportsPKCE('S256'));
    t.notOk(meta.supportsPKCE('plain'));
  });

  t.test('code flow with PKCE and a nonce, openid profile', async (t) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    });
    const callback = returned(await signInAndConsent(browser, authorizationUrl, user));
    tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    t.ok(tokens.access_token);
    t.ok(tokens.refresh_token, 'the client may refresh');
    t.equal(tokens.token_type.toLowerCase(), 'bearer');
    const claims = tokens.claims()!;
    t.equal(claims.sub, String(user.id));
    t.equal(claims.nonce, nonce);
    t.equal(claims.aud, registered.clientId);

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer: url, audience: registered.clientId });
    t.equal(payload.sub, String(user.id), 'the ID token verifies against the published JWKS');
    t.match(protectedHeader.alg, /^(RS256|ES256)$/);

    t.same((await apiMe(url, tokens.access_token)).body, { id: user.id, username: user.username }, 'the access token works at /api/me');
  });

  t.test('userinfo', async (t) => {
    const info = await oidc.fetchUserInfo(config, tokens.access_token, String(user.id));
    t.same(info, { sub: String(user.id), preferred_username: user.username, name: user.username });
    await t.rejects(oidc.fetchUserInfo(config, tokens.access_token, 'someone-else'), 'a subject mismatch is caught by the client');
  });

  t.test('refresh', async (t) => {
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    t.not(refreshed.access_token, tokens.access_token);
    t.not(refreshed.refresh_token, tokens.refresh_token, 'rotated');
    t.equal(refreshed.claims()?.sub, String(user.id), 'a fresh ID token for the same person');
    t.equal(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!)), 'invalid_grant', 'the old refresh token is spent');
    tokens = await oidc.authorizationCodeGrant(
      config,
      returned(
        await signInAndConsent(
          browser,
          oidc.buildAuthorizationUrl(config, {
            redirect_uri: REDIRECT_URI,
            scope: 'openid profile',
            code_challenge: await oidc.calculatePKCECodeChallenge('v'.repeat(43)),
            code_challenge_method: 'S256',
            state: 's2',
          }),
          user,
        ),
      ),
      { pkceCodeVerifier: 'v'.repeat(43), expectedState: 's2' },
    );
    t.ok(tokens.access_token, 'a new grant (the reuse revoked the old one), without signing in again');
  });

  t.test('introspection and revocation', async (t) => {
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    t.match(active, { active: true, sub: String(user.id), client_id: registered.clientId, scope: 'openid profile' });
    await oidc.tokenRevocation(config, tokens.access_token);
    t.same(await oidc.tokenIntrospection(config, tokens.access_token), { active: false });
    t.equal((await apiMe(url, tokens.access_token)).status, 401);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    t.equal(await oauthError(oidc.refreshTokenGrant(config, tokens.refresh_token!)), 'invalid_grant');
  });

  t.test('client credentials', async (t) => {
    const machine = await createClient(app, {
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'profile',
    });
    const machineConfig = await relyingParty(url, machine.clientId, machine.clientSecret);
    const cc = await oidc.clientCredentialsGrant(machineConfig, { scope: 'profile' });
    t.ok(cc.access_token);
    t.equal(cc.scope, 'profile');
    t.notOk(cc.refresh_token);
    t.equal((await oidc.tokenIntrospection(machineConfig, cc.access_token)).active, true);
    const me = await apiMe(url, cc.access_token);
    t.equal(me.status, 403, 'no person behind it');
  });

  t.test('the password grant, as a generic grant', async (t) => {
    const passwordClient = await createClient(app, {
      scope: 'openid profile',
      grant_types: ['password', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    });
    const passwordConfig = await relyingParty(
      url,
      passwordClient.clientId,
      passwordClient.clientSecret,
      oidc.ClientSecretBasic(passwordClient.clientSecret!),
    );
    const res = await oidc.genericGrantRequest(passwordConfig, 'password', {
      username: user.username,
      password: user.password,
      scope: 'openid profile',
    });
    t.equal(res.claims()?.sub, String(user.id), "its ID token passes openid-client's checks");
    t.ok(res.refresh_token);
  });

  t.test('the device flow', async (t) => {
    const tv = await createClient(app, {
      grant_types: [DEVICE_CODE_GRANT],
      response_types: [],
      redirect_uris: [],
      scope: 'openid profile',
    });
    const tvConfig = await relyingParty(url, tv.clientId, tv.clientSecret);
    const started = await oidc.initiateDeviceAuthorization(tvConfig, { scope: 'openid profile' });
    const polling = oidc.pollDeviceAuthorizationGrant(tvConfig, started);
    const person = new BrowserSession(url);
    const input = await person.get(started.verification_uri_complete!);
    const confirm = await person.post('/oauth/device', { xsrf: hidden(input.html, 'xsrf')!, user_code: started.user_code });
    const login = await person.post('/oauth/device', {
      xsrf: hidden(confirm.html, 'xsrf')!,
      user_code: hidden(confirm.html, 'user_code')!,
      confirm: 'yes',
    });
    t.match(mainText(await signInAndConsent(person, login, user)), 'Device connected');
    const deviceTokens = await polling;
    t.equal(deviceTokens.claims()?.sub, String(user.id));
  });

  t.test('RP-initiated logout ends the OpenID Connect session', async (t) => {
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const signedIn = await oidc.authorizationCodeGrant(
      config,
      returned(
        await signInAndConsent(
          browser,
          oidc.buildAuthorizationUrl(config, {
            redirect_uri: REDIRECT_URI,
            scope: 'openid profile',
            nonce,
            code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
            code_challenge_method: 'S256',
          }),
          user,
        ),
      ),
      { pkceCodeVerifier: verifier, expectedNonce: nonce },
    );
    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: signedIn.id_token! });
    const page = await browser.get(logoutUrl);
    t.equal(page.status, 200);
    t.match(mainText(page), 'Sign out of', 'our confirmation page');
    t.match(page.html, /latchkey\.css/);
    const done = await browser.post(`${url}/oauth/logout/confirm`, { xsrf: hidden(page.html, 'xsrf')!, logout: 'yes' });
    t.match(mainText(done), 'You are signed out');

    const again = await browser.get(
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid profile',
        nonce: oidc.randomNonce(),
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }),
    );
    t.notOk(again.leftTo, 'no code without signing in again');
    t.ok(browser.hasButton(again, 'Sign in'));
  });
});
