import { request as httpRequest } from 'node:http';
import t from 'tap';
import { createClient } from './helpers/fixtures.js';
import { startServer } from './helpers/server.js';

/** Every URL the server prints follows ISSUER, whatever Host a request came with. */

/** A GET with a Host header of our choosing (fetch does not allow setting it). */
function get(url: string, host: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every string in a JSON value that looks like a URL. */
function urls(value: unknown): string[] {
  if (typeof value === 'string') return /^https?:\/\//.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urls);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urls);
  return [];
}

t.test('discovery and RFC 8414 metadata are the same through any Host', async (t) => {
  const issuer = 'https://login.example.test';
  const { url } = await startServer(t, { env: { ISSUER: issuer } });
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const one = await get(`${url}${path}`, 'internal-probe:8080');
    const two = await get(`${url}${path}`, 'evil.example');
    t.equal(one.status, 200, path);
    t.equal(one.body, two.body, `${path}: the same document through two Host headers`);
    const printed = urls(JSON.parse(one.body));
    t.ok(printed.length > 5, `${path}: ${printed.length} URLs`);
    t.same(
      printed.filter((u) => !u.startsWith(`${issuer}/`) && u !== issuer),
      [],
      `${path}: every URL starts with the issuer`,
    );
  }
});

t.test('an https ISSUER without TRUST_PROXY: authorization works, no 500', async (t) => {
  const { url, app } = await startServer(t, { env: { ISSUER: 'https://login.example.test' } });
  const client = await createClient(app, { redirect_uris: ['https://client.example/callback'] });
  const res = await get(`${url}/oauth/authorize?response_type=code&client_id=${client.clientId}&scope=profile`, 'whatever:1');
  t.equal(res.status, 303, 'redirected to the sign-in page, as over https');
  t.match(String(res.headers.location), /^(https:\/\/login\.example\.test)?\/interaction\//, 'to the issuer’s interaction page');
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  t.ok(cookies.length > 0 && cookies.every((c) => /;\s*secure/i.test(c)), 'its cookies are Secure');
});
