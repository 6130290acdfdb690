import { request as httpRequest } from 'node:http';
import t from 'tap';
import { createClient } from './helpers/fixtures.js';
import { basic } from './helpers/http.js';
import { startServer } from './helpers/server.js';

/** Body size limits on every route, a cap on form fields, timeouts, and cookie flags. */

function chunkedPost(
  url: string,
  path: string,
  headers: Record<string, string>,
  chunks: string[],
): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method: 'POST', path, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

t.test('body limits', async (t) => {
  const { url, app } = await startServer(t);
  const issued = await createClient(app, { grant_types: ['client_credentials'], response_types: [] });
  const headers = { authorization: basic(issued.clientId, issued.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' };

  const justUnder = `grant_type=client_credentials&pad=${'p'.repeat(55 * 1024)}`;
  const ok = await fetch(`${url}/oauth/token`, { method: 'POST', headers, body: justUnder });
  t.equal(ok.status, 200, 'a 55 KiB token request is served');
  const over = await fetch(`${url}/oauth/token`, { method: 'POST', headers, body: `${justUnder}${'p'.repeat(2 * 1024)}` });
  t.equal(over.status, 413, 'a 57 KiB token request: 413');
  t.equal(((await over.json()) as { error: string }).error, 'invalid_request');

  const chunked = await chunkedPost(url, '/oauth/token', headers, ['grant_type=client_', 'credentials']);
  t.equal(chunked.status, 200, 'a chunked token request (no Content-Length) is served');
  t.match(JSON.parse(chunked.text), { token_type: 'Bearer' });
  const chunkedOver = await chunkedPost(url, '/oauth/token', headers, [
    'grant_type=client_credentials&pad=',
    ...Array.from({ length: 60 }, () => 'p'.repeat(1024)),
  ]);
  t.equal(chunkedOver.status, 413, 'a chunked token request over 56 KiB: 413');

  const page = await fetch(`${url}/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: `x=${'a'.repeat(65 * 1024)}`,
  });
  t.equal(page.status, 413, 'a 65 KiB form: 413');
  const manyFields = Array.from({ length: 101 }, (_, i) => `f${i}=1`).join('&');
  t.equal(
    (await fetch(`${url}/signin`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: manyFields }))
      .status,
    413,
    '101 form fields: 413',
  );
  const json = await fetch(`${url}/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ x: 'a'.repeat(65 * 1024) }),
  });
  t.equal(json.status, 413, 'a 65 KiB JSON body at a page: 413');
});

t.test('timeouts', async (t) => {
  const { app } = await startServer(t);
  t.ok(
    app.server.requestTimeout > 0 && app.server.requestTimeout <= 60_000,
    `a whole request must arrive within ${app.server.requestTimeout} ms`,
  );
  t.ok(app.server.headersTimeout > 0 && app.server.headersTimeout <= 60_000, `headers must arrive within ${app.server.headersTimeout} ms`);
  t.ok(
    app.server.keepAliveTimeout > 0 && app.server.keepAliveTimeout <= 120_000,
    `idle keep-alive connections close after ${app.server.keepAliveTimeout} ms`,
  );
  t.ok(app.server.timeout > 0, `inactive sockets close after ${app.server.timeout} ms`);
});

function cookieLines(res: Response): string[] {
  return res.headers.getSetCookie();
}

t.test('cookies: HttpOnly and SameSite always, Secure behind https', async (t) => {
  for (const https of [false, true]) {
    const env: Record<string, string> = https ? { ISSUER: 'https://login.example.test', TRUST_PROXY: 'true' } : {};
    const { url, app } = await startServer(t, { env });
    const issued = await createClient(app, { redirect_uris: ['https://client.example/callback'] });
    const forwarded: Record<string, string> = https
      ? { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'login.example.test', host: 'login.example.test' }
      : {};
    const home = await fetch(`${url}/`, { headers: { accept: 'text/html', ...forwarded } });
    const authorize = await fetch(`${url}/oauth/authorize?response_type=code&client_id=${issued.clientId}&scope=profile`, {
      redirect: 'manual',
      headers: { accept: 'text/html', ...forwarded },
    });
    t.equal(authorize.status, 303, 'the provider starts an interaction');
    const lines = [...cookieLines(home), ...cookieLines(authorize)];
    t.ok(lines.length >= 2, `cookies were set (${lines.map((l) => l.split('=')[0]).join(', ')})`);
    for (const line of lines) {
      const name = line.split('=')[0];
      t.match(line, /;\s*httponly/i, `${name}: HttpOnly`);
      t.match(line, /;\s*samesite=(lax|strict)/i, `${name}: SameSite`);
      if (https) t.match(line, /;\s*secure/i, `${name}: Secure (https issuer)`);
      else t.notMatch(line, /;\s*secure/i, `${name}: not Secure on plain http (the browser would drop it)`);
    }
  }
});
