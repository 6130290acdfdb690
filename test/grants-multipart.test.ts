import t from 'tap';
import { basic, json } from './helpers/http.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { passwordGrant, post } from './helpers/oauth.js';
import { startServer } from './helpers/server.js';

/** A hand-built multipart body, so that the test controls every byte (files, sizes). */
function multipart(parts: { name: string; value: string; filename?: string }[]) {
  const boundary = `----latchkey${Math.random().toString(16).slice(2)}`;
  const chunks = parts.map(
    ({ name, value, filename }) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"\r\nContent-Type: text/plain` : ''}\r\n\r\n${value}\r\n`,
  );
  return { body: `${chunks.join('')}--${boundary}--\r\n`, type: `multipart/form-data; boundary=${boundary}` };
}

t.test('multipart/form-data (curl -F) at the token, revocation and introspection endpoints', async (t) => {
  const { url, app } = await startServer(t);
  const user = await createUser(app);
  const client = await createClient(app);
  const auth = { id: client.clientId, secret: client.clientSecret };
  const send = (path: string, form: ReturnType<typeof multipart>) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': form.type, accept: 'application/json' },
      body: form.body,
    });

  t.test('all three accept multipart and urlencoded alike', async (t) => {
    for (const encoding of ['multipart', 'urlencoded'] as const) {
      const issued = await post(
        `${url}/oauth/token`,
        { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' },
        { basicAuth: auth, encoding },
      );
      t.equal(issued.status, 200, `${encoding} token`);
      const intro = await post(`${url}/oauth/introspect`, { token: issued.body.access_token }, { basicAuth: auth, encoding });
      t.equal(intro.body.active, true, `${encoding} introspection`);
      const revoke = await post(`${url}/oauth/revoke`, { token: issued.body.access_token }, { basicAuth: auth, encoding });
      t.equal(revoke.status, 200, `${encoding} revocation`);
      const after = await post(`${url}/oauth/introspect`, { token: issued.body.access_token }, { basicAuth: auth, encoding });
      t.same(after.body, { active: false });
    }
  });

  t.test('a file part is refused with 400', async (t) => {
    for (const path of ['/oauth/token', '/oauth/revoke', '/oauth/introspect']) {
      const res = await send(
        path,
        multipart([
          { name: 'grant_type', value: 'password' },
          { name: 'username', value: user.username },
          { name: 'password', value: user.password },
          { name: 'token', value: 'x' },
          { name: 'upload', value: 'hello', filename: 'hello.txt' },
        ]),
      );
      t.equal(res.status, 400, path);
      const body = await json(res);
      t.equal(body.error, 'invalid_request');
      t.match(body.error_description, /file/);
    }
  });

  t.test('an oversized body is refused with 413, declared or streamed', async (t) => {
    const big = multipart([
      { name: 'grant_type', value: 'password' },
      { name: 'padding', value: 'x'.repeat(200 * 1024) },
    ]);
    const res = await send('/oauth/token', big);
    t.equal(res.status, 413);
    t.equal((await json(res)).error, 'invalid_request');

    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big.body));
        controller.close();
      },
    });
    const streamed = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: basic(client.clientId, client.clientSecret!), 'content-type': big.type, accept: 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    t.equal(streamed.status, 413, 'without a content-length too');

    const urlencoded = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: basic(client.clientId, client.clientSecret!),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: `grant_type=password&padding=${'x'.repeat(200 * 1024)}`,
    });
    t.equal(urlencoded.status, 413, 'an oversized urlencoded body as well');
  });

  t.test('a malformed multipart body is a 400, not a 500', async (t) => {
    const res = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: basic(client.clientId, client.clientSecret!),
        'content-type': 'multipart/form-data',
        accept: 'application/json',
      },
      body: 'not multipart at all',
    });
    t.equal(res.status, 400);
  });

  t.test('a repeated parameter is refused, as in urlencoded bodies', async (t) => {
    const res = await send(
      '/oauth/token',
      multipart([
        { name: 'grant_type', value: 'password' },
        { name: 'username', value: user.username },
        { name: 'password', value: user.password },
        { name: 'scope', value: 'profile' },
        { name: 'scope', value: 'openid' },
      ]),
    );
    t.equal(res.status, 400);
    t.equal((await json(res)).error, 'invalid_request');
  });

  t.test('the multipart answer is the same as the urlencoded one', async (t) => {
    const res = await passwordGrant(url, client, user.username, user.password);
    t.same(Object.keys(res.body), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
  });
});
