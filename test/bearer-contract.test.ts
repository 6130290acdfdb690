import { randomBytes } from 'node:crypto';
import t from 'tap';
import { sql } from 'kysely';
import { sha256 } from '../src/crypto/hash.js';
import { KyselyAdapter } from '../src/oidc/adapter/kysely-adapter.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { codeFor } from './helpers/grant-flows.js';
import { apiMe, passwordGrant, post, token, type Client } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/**
 * A contract test: src/api/bearer.ts re-implements oidc-provider's bearer token check
 * (lib/shared/access_token.js) for GET /api/me, and is only safe while its verdicts equal the
 * provider's. For each token of the table, the provider decides through its own userinfo
 * endpoint (the whole chain of lib/shared/access_token.js, then the account) and, for a
 * client's own token (which userinfo never takes), through its ClientCredentials lookup and
 * the client check of that chain; /api/me decides through bearer.ts. The verdicts must be equal:
 * the same person, the same client token, or the same refusal (status and error code).
 */
t.test('bearer.ts agrees with the provider on every token', async (t) => {
  const { url, app } = await startServer(t);
  const { provider } = app;
  const user = await createUser(app);
  // openid for the provider's userinfo, profile for /api/me: both answer for a person's token.
  const person = { scope: 'openid profile' } as const;
  const client = await createClient(app, person);
  const machineMetadata = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'profile' };
  const machine = await createClient(app, machineMetadata);
  const basicAuth = (c: Client) => ({ basicAuth: { id: c.clientId, secret: c.clientSecret } });

  const issue = async (c: Client = client) => {
    const res = await passwordGrant(url, c, user.username, user.password, person.scope);
    if (res.status !== 200) throw new Error(`password grant: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { access_token: string; refresh_token: string; id_token: string };
  };
  const clientToken = async (c: Client = machine) => {
    const res = await token(url, c, { grant_type: 'client_credentials', scope: 'profile' });
    if (res.status !== 200) throw new Error(`client credentials: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.access_token as string;
  };
  type Model = 'AccessToken' | 'ClientCredentials';
  const exchange = (code: string) => token(url, client, { grant_type: 'authorization_code', code });
  const grantOf = async (accessToken: string) => (await provider.AccessToken.find(accessToken))!.grantId!;
  /** Changes a stored token in place, as test/api-me.test.ts does: its payload, and its row's expiry when given. */
  const changeStored = async (model: Model, value: string, change: Record<string, unknown>, rowExpires?: Date) => {
    const updated = await app.db
      .updateTable('oidc_payloads')
      .set({ payload: sql`payload || ${JSON.stringify(change)}::jsonb`, ...(rowExpires ? { expires_at: rowExpires } : {}) })
      .where('model', '=', model)
      .where('key', '=', sha256(value))
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) throw new Error(`no ${model} row to change`);
  };
  const now = () => Math.floor(Date.now() / 1000);
  /** A fresh token of this model, changed in place; `aged`: time passed for its row too (the row's expiry). */
  const changed =
    (model: Model, change: () => Record<string, unknown>, aged = false) =>
    async () => {
      const value = model === 'AccessToken' ? (await issue()).access_token : await clientToken();
      const payload = change();
      await changeStored(model, value, payload, aged ? new Date(Number(payload.exp) * 1000) : undefined);
      return bearer(value);
    };
  /** A token of a client made for the case, then removed: with all its tokens (app.clients.delete), or only its row. */
  const ofRemovedClient = (model: Model, rowOnly: boolean) => async () => {
    const doomed = await createClient(app, model === 'AccessToken' ? person : machineMetadata);
    const value = model === 'AccessToken' ? (await issue(doomed)).access_token : await clientToken(doomed);
    // Only the row, through the adapter the provider stores clients with.
    if (rowOnly) await new KyselyAdapter('Client', app.db).destroy(doomed.clientId);
    else if (!(await app.clients.delete(doomed.clientId))) throw new Error('not deleted');
    if (rowOnly && !(await provider[model].adapter.find(value))) throw new Error('the token went too');
    return bearer(value);
  };
  const bearer = (value: string) => `Bearer ${value}`;

  type Verdict = string;
  const PERSON: Verdict = `person ${user.id}`;
  const CLIENT: Verdict = 'client';
  const INVALID_TOKEN: Verdict = '401 invalid_token';
  const INVALID_REQUEST: Verdict = '400 invalid_request';

  /** The provider's verdict, from its own code only. */
  const providerVerdict = async (authorization: string): Promise<Verdict> => {
    const res = await fetch(`${url}/oauth/userinfo`, { headers: { authorization } });
    const body = (await res.json()) as { sub?: string; error?: string };
    if (res.status === 200) return `person ${body.sub}`;
    if (body.error === 'invalid_token') {
      // Not an AccessToken the provider takes; it may be a client's own token. Its lookup
      // (Model.find: found, of this kind, opaque, unexpired), then what lib/shared/access_token.js
      // asks of a token presented as Bearer: not sender-constrained, and its client still exists.
      const value = authorization.split(' ')[1]!; // the header's format passed: userinfo got as far as the token
      const found = await provider.ClientCredentials.find(value);
      if (found && !found.isSenderConstrained() && (await provider.Client.find(found.clientId!))) return 'client';
    }
    return `${res.status} ${body.error}`;
  };

  /** bearer.ts's verdict, through GET /api/me: a client's token is refused as having no person. */
  const apiVerdict = async (authorization: string): Promise<Verdict> => {
    const me = await apiMe(url, undefined, { headers: { authorization } });
    if (me.status === 200) return `person ${me.body.id}`;
    if (me.status === 403 && /issued to a client/.test(me.body.error_description)) return 'client';
    return `${me.status} ${me.body.error}`;
  };

  interface Case {
    name: string;
    /** Builds the token (on the running server) and says how it is presented. */
    authorization: () => Promise<string>;
    /** What the provider must say, so that no case is vacuous (a token that failed to be built, say). */
    expect: Verdict;
    /**
     * Header syntax, where the API follows RFC 6750 rather than the provider's parser: `1*SP`
     * between scheme and token (§2.1), and 401 for a header it cannot read (§3.1). The API's
     * answer is then asserted as itself; the token's own verdict is compared in every other case.
     */
    headerRule?: { api: Verdict; why: string };
  }
  /** A person's token whose payload says exp or nbf is `by` seconds from now, its row left live. */
  const shifted = (claim: 'exp' | 'nbf', by: number, expect: Verdict): Case => ({
    name: `an access token with ${claim} ${by > 0 ? `${by} s ahead` : `${-by} s ago`} in its payload, its row still live`,
    expect,
    authorization: changed('AccessToken', () => ({ [claim]: now() + by })),
  });
  const cases: Case[] = [
    { name: 'a valid access token (password grant)', expect: PERSON, authorization: async () => bearer((await issue()).access_token) },
    {
      name: 'a valid access token (authorization code grant)',
      expect: PERSON,
      authorization: async () => {
        const code = await codeFor(url, user, { client_id: client.clientId, scope: person.scope });
        return bearer((await exchange(code)).body.access_token);
      },
    },
    { name: 'a valid client_credentials token', expect: CLIENT, authorization: async () => bearer(await clientToken()) },
    { name: 'an expired access token', expect: INVALID_TOKEN, authorization: changed('AccessToken', () => ({ exp: now() - 10 }), true) },
    {
      name: 'an expired client_credentials token',
      expect: INVALID_TOKEN,
      authorization: changed('ClientCredentials', () => ({ exp: now() - 10 }), true),
    },
    // The row still live, the payload's own times decide (the lookup's assertPayload, with the provider's clockTolerance).
    shifted('exp', -60, INVALID_TOKEN),
    shifted('nbf', 600, INVALID_TOKEN),
    shifted('exp', -5, PERSON),
    shifted('nbf', 5, PERSON),
    {
      name: 'a DPoP-bound access token (jkt) presented as a bearer token',
      expect: INVALID_TOKEN,
      authorization: changed('AccessToken', () => ({ jkt: 'thumbprint' })),
    },
    {
      name: 'a certificate-bound client_credentials token (x5t#S256) presented as a bearer token',
      expect: INVALID_TOKEN,
      authorization: changed('ClientCredentials', () => ({ 'x5t#S256': 'thumbprint' })),
    },
    {
      name: 'an access token marked consumed in the store (access tokens are not single-use)',
      expect: PERSON,
      authorization: async () => {
        const { access_token } = await issue();
        await provider.AccessToken.adapter.consume(access_token);
        if (!(await provider.AccessToken.adapter.find(access_token))?.consumed) throw new Error('not consumed');
        return bearer(access_token);
      },
    },
    {
      name: 'an access token of an authorization code consumed twice (the replay revokes it)',
      expect: INVALID_TOKEN,
      authorization: async () => {
        const code = await codeFor(url, user, { client_id: client.clientId, scope: person.scope });
        const first = await exchange(code);
        if ((await exchange(code)).body.error !== 'invalid_grant') throw new Error('the replay was not refused');
        return bearer(first.body.access_token);
      },
    },
    {
      name: 'an access token whose refresh token was consumed by rotation (it stays valid)',
      expect: PERSON,
      authorization: async () => {
        const first = await issue();
        const rotated = await token(url, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
        if (rotated.status !== 200) throw new Error('no rotation');
        return bearer(first.access_token);
      },
    },
    {
      name: 'a refresh token consumed by rotation, presented as an access token',
      expect: INVALID_TOKEN,
      authorization: async () => {
        const first = await issue();
        await token(url, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
        return bearer(first.refresh_token);
      },
    },
    {
      name: 'an access token whose refresh token was revoked (POST /oauth/revoke revokes the grant)',
      expect: INVALID_TOKEN,
      authorization: async () => {
        const { access_token, refresh_token } = await issue();
        const revoked = await post(`${url}/oauth/revoke`, { token: refresh_token, token_type_hint: 'refresh_token' }, basicAuth(client));
        if (revoked.status !== 200) throw new Error(`revoke: ${revoked.status}`);
        return bearer(access_token);
      },
    },
    {
      name: 'an access token whose Grant was destroyed (the token itself still stored)',
      expect: INVALID_TOKEN,
      authorization: async () => {
        const { access_token } = await issue();
        await (await provider.Grant.find(await grantOf(access_token)))!.destroy();
        if (!(await provider.AccessToken.adapter.find(access_token))) throw new Error('the token went too');
        return bearer(access_token);
      },
    },
    {
      name: 'an access token of a client that was deleted (its tokens go with it)',
      expect: INVALID_TOKEN,
      authorization: ofRemovedClient('AccessToken', false),
    },
    {
      name: 'a client_credentials token of a client that was deleted (its tokens go with it)',
      expect: INVALID_TOKEN,
      authorization: ofRemovedClient('ClientCredentials', false),
    },
    {
      name: 'an access token whose client row is gone (the token and its grant left in place)',
      expect: INVALID_TOKEN,
      authorization: ofRemovedClient('AccessToken', true),
    },
    {
      name: 'a client_credentials token whose client row is gone (the token left in place)',
      expect: INVALID_TOKEN,
      authorization: ofRemovedClient('ClientCredentials', true),
    },
    { name: 'a random string', expect: INVALID_TOKEN, authorization: async () => bearer(randomBytes(32).toString('base64url')) },
    {
      name: 'a refresh token presented as an access token',
      expect: INVALID_TOKEN,
      authorization: async () => bearer((await issue()).refresh_token),
    },
    {
      name: 'an ID token presented as an access token',
      expect: INVALID_TOKEN,
      authorization: async () => bearer((await issue()).id_token),
    },
    {
      name: 'too long: a valid token with 500 more characters',
      expect: INVALID_TOKEN,
      authorization: async () => bearer((await issue()).access_token + 'A'.repeat(500)),
    },
    { name: 'too long: 5000 characters', expect: INVALID_TOKEN, authorization: async () => bearer('y'.repeat(5000)) },
    {
      name: 'invalid characters: a valid token with a "!" appended',
      expect: INVALID_TOKEN,
      authorization: async () => bearer(`${(await issue()).access_token}!`),
    },
    {
      name: 'invalid characters: a valid token with a space inside',
      expect: INVALID_REQUEST,
      headerRule: { api: INVALID_TOKEN, why: 'a token with a space is not a b64token (RFC 6750 §2.1)' },
      authorization: async () => {
        const { access_token } = await issue();
        return bearer(`${access_token.slice(0, 20)} ${access_token.slice(20)}`);
      },
    },
    {
      name: 'empty: "Bearer " and nothing after it',
      expect: INVALID_REQUEST,
      headerRule: { api: INVALID_TOKEN, why: 'no token after the scheme: 401 (RFC 6750 §3.1)' },
      authorization: async () => bearer(''),
    },
    {
      name: 'a valid token after two spaces ("Bearer  <token>")',
      expect: INVALID_REQUEST,
      headerRule: { api: PERSON, why: 'one or more spaces after the scheme (RFC 6750 §2.1: 1*SP)' },
      authorization: async () => `Bearer  ${(await issue()).access_token}`,
    },
  ];

  for (const { name, authorization, expect, headerRule } of cases) {
    t.test(headerRule ? `${name} (header syntax: ${headerRule.why})` : name, async (t) => {
      const header = await authorization();
      // bearer.ts first (nothing warmed for it by the provider's lookups), then again after them.
      const before = await apiVerdict(header);
      const theirs = await providerVerdict(header);
      const after = await apiVerdict(header);
      t.comment(`provider: ${theirs}; bearer.ts: ${before}, then ${after}`);
      t.equal(theirs, expect, 'the provider says what the case was built for');
      const wanted = headerRule?.api ?? theirs;
      t.equal(before, wanted, headerRule ? 'the API answers as RFC 6750 says' : 'bearer.ts agrees with the provider');
      t.equal(after, wanted, 'and still does after the provider looked the token up');
    });
  }
});
