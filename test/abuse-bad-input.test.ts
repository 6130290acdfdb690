import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { basic } from './helpers/http.js';
import { startServer } from './helpers/server.js';

/**
 * Bad input against a live server: malformed and oversized bodies, wrong content types, file
 * parts, duplicated parameters, unknown grants, huge values, SQL- and markup-looking strings in
 * every field. Each gets a clean 4xx (with a JSON `error` at the OAuth endpoints) and nothing
 * anywhere is a 5xx; the server is healthy afterwards.
 */

const SQL = `' OR '1'='1'; DROP TABLE accounts; --`;
const MARKUP = `<script>alert(1)</script><img src=x onerror=alert(2)>`;
const NASTY = [SQL, MARKUP, '%00\u0000nul', '../../etc/passwd', '{"$ne": null}', 'é'.repeat(300), '\u202e\ufeffrtl'];
const BIG = 'u'.repeat(10 * 1024);

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** A raw HTTP/1.1 request (fetch cannot send some of the malformed things below). */
function raw(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method: options.method ?? 'POST', path: options.path, headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
    req.end(options.body);
  });
}

/** Bytes written to a plain TCP connection; the answer is whatever comes back before the server closes it. */
function socket(url: string, bytes: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const conn = connect(Number(port), hostname);
    let text = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => (text += chunk));
    conn.on('error', (err) => (text ? undefined : reject(err)));
    conn.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, type: /content-type: *([^\r\n]*)/i.exec(text)?.[1] ?? '', text });
    });
    conn.setTimeout(15_000, () => conn.destroy());
    conn.end(bytes);
  });
}

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

t.test('bad input gets a clean 4xx, never a 5xx', async (t) => {
  const server = await startServer(t);
  const { url, app } = server;
  const user = await createUser(app);
  const issued = await createClient(app, { grant_types: ['authorization_code', 'password', 'refresh_token', 'client_credentials'] });
  const auth = basic(issued.clientId, issued.clientSecret!);
  const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: auth };
  const seen: Array<{ name: string; status: number }> = [];

  /** The answer must be a 4xx (a JSON OAuth `error` where `oauth`), and markup never comes back unescaped. */
  const check = (t: Test, name: string, res: Answer, options: { oauth?: boolean; status?: number } = {}) => {
    seen.push({ name, status: res.status });
    if (options.status) t.equal(res.status, options.status, `${name}: ${options.status}`);
    else t.ok(res.status >= 400 && res.status < 500, `${name}: a 4xx (got ${res.status})`);
    if (options.oauth) {
      t.match(res.type, /json/, `${name}: JSON`);
      t.ok(typeof (JSON.parse(res.text || '{}') as { error?: unknown }).error === 'string', `${name}: an OAuth error`);
    }
    t.notOk(res.text.includes('<script>alert(1)'), `${name}: markup is not echoed unescaped`);
    t.notMatch(res.text, /at \w+ \(|node_modules|\/work\//, `${name}: no stack trace`);
  };

  t.test('token endpoint', async (t) => {
    const post = (body: string | Buffer, headers: Record<string, string> = form) => raw(url, { path: '/oauth/token', headers, body });
    check(t, 'malformed percent-encoding', await post('grant_type=%ZZ&scope=%'), { oauth: true });
    check(t, 'no body', await post(''), { oauth: true });
    check(t, 'JSON body', await post('{"grant_type":"client_credentials"}', { ...form, 'content-type': 'application/json' }), {
      oauth: true,
    });
    check(t, 'text/plain body', await post('grant_type=client_credentials', { ...form, 'content-type': 'text/plain' }), { oauth: true });
    check(t, 'XML body', await post('<grant_type>x</grant_type>', { ...form, 'content-type': 'application/xml' }), { oauth: true });
    check(t, 'unknown grant', await post('grant_type=urn:evil:grant'), { oauth: true, status: 400 });
    check(t, 'duplicated grant_type', await post('grant_type=client_credentials&grant_type=password'), { oauth: true, status: 400 });
    check(t, 'duplicated scope', await post('grant_type=client_credentials&scope=profile&scope=openid'), { oauth: true, status: 400 });
    check(t, 'duplicated password', await post(`grant_type=password&username=${user.username}&password=a&password=b`), {
      oauth: true,
      status: 400,
    });
    check(t, '10 kB username', await post(`grant_type=password&username=${BIG}&password=x`), { oauth: true, status: 400 });
    check(t, '10 kB password', await post(`grant_type=password&username=${user.username}&password=${BIG}`), { oauth: true, status: 400 });
    check(t, 'oversized body (57 KiB)', await post(`grant_type=client_credentials&x=${'a'.repeat(57 * 1024)}`), {
      oauth: true,
      status: 413,
    });
    check(
      t,
      'oversized body without a length (chunked)',
      await post(`grant_type=client_credentials&x=${'a'.repeat(57 * 1024)}`, { ...form, 'transfer-encoding': 'chunked' }),
      { oauth: true, status: 413 },
    );
    check(t, 'garbage Basic credentials', await post('grant_type=client_credentials', { ...form, authorization: 'Basic !!!notbase64' }), {
      oauth: true,
    });
    check(
      t,
      'Basic without a colon',
      await post('grant_type=client_credentials', { ...form, authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }),
      { oauth: true },
    );
    check(
      t,
      'Basic with a malformed percent-encoding',
      await post('grant_type=client_credentials', { ...form, authorization: `Basic ${Buffer.from('%ZZ:%ZZ').toString('base64')}` }),
      { oauth: true },
    );
    check(t, 'a code that was never issued', await post(`grant_type=authorization_code&code=${SQL}&redirect_uri=https://authlib.org/`), {
      oauth: true,
      status: 400,
    });
    check(t, 'a refresh token that was never issued', await post(`grant_type=refresh_token&refresh_token=${encodeURIComponent(MARKUP)}`), {
      oauth: true,
      status: 400,
    });
    // Each field where it matters: within a grant that reads it.
    const inContext: Record<string, (v: string) => { body: string; headers?: Record<string, string> }> = {
      grant_type: (v) => ({ body: `grant_type=${v}` }),
      username: (v) => ({ body: `grant_type=password&username=${v}&password=x` }),
      password: (v) => ({ body: `grant_type=password&username=nobody&password=${v}` }),
      code: (v) => ({ body: `grant_type=authorization_code&code=${v}&redirect_uri=https://authlib.org/` }),
      redirect_uri: (v) => ({ body: `grant_type=authorization_code&code=not-a-code&redirect_uri=${v}` }),
      code_verifier: (v) => ({ body: `grant_type=authorization_code&code=not-a-code&code_verifier=${v}` }),
      refresh_token: (v) => ({ body: `grant_type=refresh_token&refresh_token=${v}` }),
      client_id: (v) => ({
        body: `grant_type=client_credentials&client_id=${v}&client_secret=x`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      client_secret: (v) => ({
        body: `grant_type=client_credentials&client_id=${issued.clientId}&client_secret=${v}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    };
    for (const value of NASTY) {
      for (const [field, request] of Object.entries(inContext)) {
        const { body, headers } = request(encodeURIComponent(value));
        check(t, `${field}=${value.slice(0, 20)}`, await post(body, headers), { oauth: true });
      }
      // Scopes the server does not know are dropped (RFC 6749 §3.3 lets it grant less): never granted, never a 5xx.
      const scoped = await post(`grant_type=client_credentials&scope=${encodeURIComponent(value)}`);
      seen.push({ name: `scope=${value.slice(0, 20)}`, status: scoped.status });
      t.ok(scoped.status < 500, `scope=${value.slice(0, 20)}: ${scoped.status}`);
      if (scoped.status === 200)
        t.notOk(String(JSON.parse(scoped.text).scope ?? '').includes(value.trim().split(' ')[0]!), 'the unknown scope was not granted');
    }
  });

  t.test('multipart at the token endpoint', async (t) => {
    const boundary = 'XyZ';
    const part = (name: string, value: string, filename?: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"\r\nContent-Type: application/octet-stream` : ''}\r\n\r\n${value}\r\n`;
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: auth };
    const post = (body: string, h: Record<string, string> = headers) => raw(url, { path: '/oauth/token', headers: h, body });
    check(
      t,
      'a file part',
      await post(part('grant_type', 'client_credentials') + part('upload', 'MZ\u0000binary', 'evil.exe') + `--${boundary}--\r\n`),
      { oauth: true, status: 400 },
    );
    check(t, 'truncated multipart', await post(part('grant_type', 'client_credentials').slice(0, 30)), { oauth: true });
    check(
      t,
      'multipart without a boundary',
      await post(part('grant_type', 'client_credentials'), { ...headers, 'content-type': 'multipart/form-data' }),
      { oauth: true, status: 400 },
    );
    check(t, 'too many parts', await post(Array.from({ length: 100 }, (_, i) => part(`f${i}`, 'x')).join('') + `--${boundary}--\r\n`), {
      oauth: true,
      status: 413,
    });
    check(
      t,
      'a 10 kB field',
      await post(part('grant_type', 'password') + part('username', BIG) + part('password', 'x') + `--${boundary}--\r\n`),
      { oauth: true, status: 413 },
    );
    check(
      t,
      'duplicated fields',
      await post(part('grant_type', 'client_credentials') + part('grant_type', 'client_credentials') + `--${boundary}--\r\n`),
      { oauth: true, status: 400 },
    );
    check(t, 'markup in a field name', await post(part(MARKUP, 'x') + part('grant_type', 'nope') + `--${boundary}--\r\n`), {
      oauth: true,
      status: 400,
    });
  });

  t.test('revocation and introspection', async (t) => {
    for (const path of ['/oauth/revoke', '/oauth/introspect']) {
      const post = (body: string, headers: Record<string, string> = form) => raw(url, { path, headers, body });
      check(t, `${path}: no token`, await post(''), { oauth: true, status: 400 });
      check(t, `${path}: duplicated token`, await post('token=a&token=b'), { oauth: true, status: 400 });
      check(t, `${path}: JSON`, await post('{"token":"x"}', { ...form, 'content-type': 'application/json' }), { oauth: true, status: 400 });
      check(t, `${path}: no client`, await post('token=x', { 'content-type': 'application/x-www-form-urlencoded' }), { oauth: true });
      check(t, `${path}: oversized`, await post(`token=${'t'.repeat(60 * 1024)}`), { oauth: true, status: 413 });
      for (const value of NASTY) {
        const res = await post(`token=${encodeURIComponent(value)}&token_type_hint=${encodeURIComponent(value)}`);
        // RFC 7009/7662: an unknown token is not an error (200); what matters is no 5xx.
        seen.push({ name: `${path} ${value.slice(0, 20)}`, status: res.status });
        t.ok(res.status < 500, `${path} with token=${value.slice(0, 20)}: ${res.status}`);
      }
    }
  });

  t.test('authorization endpoint and browser-facing provider pages', async (t) => {
    const get = (query: string) =>
      fetch(`${url}/oauth/authorize?${query}`, { redirect: 'manual', headers: { accept: 'text/html' } }).then(answer);
    check(t, 'no parameters', await get(''));
    check(t, 'unknown client', await get(`response_type=code&client_id=${encodeURIComponent(SQL)}&scope=profile`));
    check(
      t,
      'unregistered redirect_uri',
      await get(`response_type=code&client_id=${issued.clientId}&redirect_uri=${encodeURIComponent('https://evil.example/')}`),
    );
    check(
      t,
      'markup redirect_uri',
      await get(`response_type=code&client_id=${issued.clientId}&redirect_uri=${encodeURIComponent(`javascript:${MARKUP}`)}`),
    );
    check(t, 'duplicated client_id', await get(`response_type=code&client_id=${issued.clientId}&client_id=other`));
    check(t, '10 kB state', await get(`response_type=code&client_id=${encodeURIComponent(BIG)}&state=${BIG}`));
    for (const value of NASTY) {
      for (const field of ['client_id', 'response_type', 'scope', 'redirect_uri', 'code_challenge_method', 'prompt', 'response_mode']) {
        const params = new URLSearchParams({ response_type: 'code', client_id: issued.clientId, scope: 'profile' });
        params.set(field, value);
        const res = await get(params.toString());
        seen.push({ name: `authorize ${field}`, status: res.status });
        t.ok(res.status < 500, `authorize with ${field}=${value.slice(0, 20)}: ${res.status}`);
        t.notOk(res.text.includes('<script>alert(1)'), 'markup is escaped');
      }
    }
    check(
      t,
      'userinfo with a garbage token',
      await answer(await fetch(`${url}/oauth/userinfo`, { headers: { authorization: `Bearer ${encodeURIComponent(SQL)}` } })),
      { oauth: true },
    );
    check(
      t,
      'registration with malformed JSON',
      await raw(url, { path: '/oauth/register', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris": [' }),
      { oauth: true },
    );
    check(
      t,
      'registration with markup',
      await raw(url, {
        path: '/oauth/register',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: MARKUP, redirect_uris: [SQL] }),
      }),
      { oauth: true },
    );
    check(
      t,
      'logout with markup',
      await answer(
        await fetch(`${url}/oauth/logout?post_logout_redirect_uri=${encodeURIComponent(MARKUP)}&id_token_hint=${encodeURIComponent(SQL)}`, {
          headers: { accept: 'text/html' },
        }),
      ),
    );
  });

  t.test('/api/me', async (t) => {
    for (const header of [`Bearer ${SQL}`, `Bearer ${MARKUP}`, `Bearer ${BIG}`, 'Basic abc', 'Bearer', `Bearer a b c`]) {
      check(t, `Authorization: ${header.slice(0, 20)}`, await answer(await fetch(`${url}/api/me`, { headers: { authorization: header } })));
    }
    check(t, '/api/me?access_token=', await answer(await fetch(`${url}/api/me?access_token=${encodeURIComponent(SQL)}`)));
  });

  t.test('forms of the pages', async (t) => {
    const browser = new BrowserSession(url);
    const home = await browser.get('/');
    const csrf = browser.csrf(home);
    const origin = new URL(url).origin;
    const post = (path: string, body: string, contentType = 'application/x-www-form-urlencoded') =>
      browser.jar
        .fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': contentType, origin, accept: 'text/html' }, body })
        .then(answer);
    for (const path of ['/signin', '/signup']) {
      check(t, `${path}: no CSRF token`, await post(path, `username=${user.username}&password=x`), { status: 403 });
      check(t, `${path}: 10 kB username`, await post(path, `_csrf=${encodeURIComponent(csrf)}&username=${BIG}&password=x`));
      check(
        t,
        `${path}: duplicated fields`,
        await post(path, `_csrf=${encodeURIComponent(csrf)}&username=a&username=b&password=x&password=y`),
      );
      check(t, `${path}: oversized (65 KiB)`, await post(path, `_csrf=${encodeURIComponent(csrf)}&x=${'a'.repeat(65 * 1024)}`), {
        status: 413,
      });
      check(t, `${path}: too many fields`, await post(path, Array.from({ length: 150 }, (_, i) => `f${i}=1`).join('&')), { status: 413 });
      check(t, `${path}: JSON body`, await post(path, JSON.stringify({ _csrf: csrf, username: 'x', password: 'y' }), 'application/json'));
      check(
        t,
        `${path}: multipart with a file`,
        await post(
          path,
          '--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nx\r\n--b--\r\n',
          'multipart/form-data; boundary=b',
        ),
      );
      check(t, `${path}: malformed percent-encoding`, await post(path, `_csrf=${encodeURIComponent(csrf)}&username=%ZZ&password=%`));
      for (const value of NASTY) {
        const res = await post(path, new URLSearchParams({ _csrf: csrf, username: value, password: value }).toString());
        seen.push({ name: `${path} ${value.slice(0, 10)}`, status: res.status });
        t.ok(res.status < 500, `${path} with ${value.slice(0, 20)}: ${res.status}`);
        t.notOk(res.text.includes('<script>alert(1)'), `${path}: markup is escaped`);
      }
    }
    check(
      t,
      'interaction of another uid',
      await post(`/interaction/${encodeURIComponent(SQL)}/login`, `_csrf=${encodeURIComponent(csrf)}&username=a&password=b`),
    );
    for (const value of NASTY) {
      const res = await answer(
        await browser.jar.fetch(new URL(`/clients/${encodeURIComponent(value)}`, url), { headers: { accept: 'text/html' } }),
      );
      check(t, `client page of client ${value.slice(0, 20)}`, res);
      check(
        t,
        `interaction ${value.slice(0, 20)}`,
        await answer(
          await browser.jar.fetch(new URL(`/interaction/${encodeURIComponent(value)}`, url), { headers: { accept: 'text/html' } }),
        ),
      );
    }
  });

  t.test('forms of a signed-in person', async (t) => {
    const browser = new BrowserSession(url);
    const signedIn = await browser.submit(await browser.get('/'), 'Create account', {
      Username: `bad-input-${Date.now()}`,
      Password: 'a long enough password',
    });
    t.ok(browser.hasButton(signedIn, 'Sign out'), 'signed in');
    const csrf = () => browser.get('/').then((page) => browser.csrf(page));
    const origin = new URL(url).origin;
    const post = async (path: string, fields: Record<string, string | string[]>) => {
      const body = new URLSearchParams({ _csrf: await csrf() });
      for (const [name, value] of Object.entries(fields)) for (const v of ([] as string[]).concat(value)) body.append(name, v);
      return browser.jar
        .fetch(new URL(path, url), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin, accept: 'text/html' },
          body: body.toString(),
        })
        .then(answer);
    };
    const good = {
      client_name: 'ok',
      client_uri: 'https://authlib.org/',
      redirect_uris: 'https://authlib.org/',
      grant_types: 'authorization_code',
      response_types: 'code',
      scope: 'profile',
      token_endpoint_auth_method: 'client_secret_basic',
    };
    for (const value of [...NASTY, BIG]) {
      for (const field of Object.keys(good)) {
        const res = await post('/clients', { ...good, [field]: value });
        seen.push({ name: `create client ${field}`, status: res.status });
        // A name is free text (shown escaped); every other field has rules: 422 with the form again.
        if (field === 'client_name' && value !== BIG)
          t.ok(
            res.status === 201 || (res.status >= 400 && res.status < 500),
            `Create client with ${field}=${value.slice(0, 20)}: ${res.status}`,
          );
        else check(t, `Create client with ${field}=${value.slice(0, 20)}`, res);
        t.notOk(res.text.includes('<script>alert(1)'), 'markup is escaped');
      }
      check(t, `delete client ${value.slice(0, 20)}`, await post(`/clients/${encodeURIComponent(value)}/delete`, {}));
      check(t, `rotate secret of client ${value.slice(0, 20)}`, await post(`/clients/${encodeURIComponent(value)}/rotate-secret`, {}));
      const revoke = await post('/connected-apps/revoke', { client_id: value });
      seen.push({ name: 'revoke a connected app', status: revoke.status });
      t.ok(revoke.status < 500, `Revoke with client_id=${value.slice(0, 20)}: ${revoke.status} (nothing to revoke)`);
    }
    // A form may repeat a field (checkboxes do): one value is taken, and the rules still hold.
    const repeated = await post('/clients', {
      ...good,
      client_name: ['a', 'b'],
      token_endpoint_auth_method: ['none', 'client_secret_basic'],
    });
    seen.push({ name: 'Create client with repeated fields', status: repeated.status });
    t.ok(repeated.status === 201 || repeated.status === 422, `Create client with repeated fields: ${repeated.status}`);
    const home = await browser.get('/');
    t.notOk(home.html.includes('<script>alert(1)'), 'the home page lists every client name escaped');
  });

  t.test('device flow endpoints', async (t) => {
    for (const value of NASTY) {
      const res = await raw(url, {
        path: '/oauth/device/auth',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `client_id=${encodeURIComponent(value)}&scope=${encodeURIComponent(value)}`,
      });
      check(t, `device authorization with client_id=${value.slice(0, 20)}`, res, { oauth: true });
      const page = await answer(
        await fetch(`${url}/oauth/device?user_code=${encodeURIComponent(value)}`, { headers: { accept: 'text/html' } }),
      );
      seen.push({ name: 'device page', status: page.status });
      t.ok(page.status < 500, `the code page with user_code=${value.slice(0, 20)}: ${page.status}`);
      t.notOk(page.text.includes('<script>alert(1)'), 'markup is escaped');
      check(
        t,
        `the code form without its token, user_code=${value.slice(0, 20)}`,
        await raw(url, {
          path: '/oauth/device',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
          body: `user_code=${encodeURIComponent(value)}`,
        }),
      );
    }
  });

  t.test('requests malformed at the HTTP level', async (t) => {
    check(t, 'a 20 kB header', await socket(url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20 * 1024)}\r\n\r\n`), {
      status: 431,
    });
    check(t, 'a malformed request line', await socket(url, 'GET /healthz HTTP/9.9 extra\r\n\r\n'), { status: 400 });
    check(
      t,
      'a body shorter than its Content-Length',
      await socket(
        url,
        'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nConnection: close\r\n\r\ngrant_type=x',
      ),
    );
    check(t, 'a path with a NUL', await raw(url, { method: 'GET', path: '/%00', headers: { accept: 'text/html' } }));
    check(
      t,
      'an unknown method on the token endpoint',
      await raw(url, { method: 'PATCH', path: '/oauth/token', headers: form, body: 'grant_type=client_credentials' }),
    );
    check(
      t,
      'GET on the token endpoint',
      await raw(url, { method: 'GET', path: '/oauth/token?grant_type=client_credentials', headers: { authorization: auth } }),
    );
  });

  t.test('afterwards the server is healthy', async (t) => {
    t.same(
      seen.filter((s) => s.status >= 500),
      [],
      'no 5xx anywhere',
    );
    t.equal((await fetch(`${url}/healthz`)).status, 200);
    t.equal((await fetch(`${url}/readyz`)).status, 200);
    const fresh = await createUser(app);
    const ok = await raw(url, {
      path: '/oauth/token',
      headers: form,
      body: `grant_type=password&username=${fresh.username}&password=${encodeURIComponent(fresh.password)}&scope=profile`,
    });
    t.equal(ok.status, 200, 'a good request is served');
  });
});
