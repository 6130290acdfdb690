import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { BrowserSession } from './helpers/browser-session.js';
import { createClient, createUser, uniqueName } from './helpers/fixtures.js';
import { returned, signInAndConsent } from './helpers/grant-flows.js';
import { startServer } from './helpers/server.js';

const run = promisify(execFile);
const SEED_ORIGIN = 'http://127.0.0.1:5000';

/**
 * The walkthrough of README.md (the Authlib example's README), each command run
 * verbatim by a shell with curl. Only the server's address differs: tests never bind port 5000.
 */
const WALKTHROUGH = {
  password: `curl -u $client_id:$client_secret -XPOST ${SEED_ORIGIN}/oauth/token \\
     -F grant_type=password -F username=$username -F password=$password -F scope=profile`,
  me: `curl -H "Authorization: Bearer $access_token" ${SEED_ORIGIN}/api/me`,
  open: `open "${SEED_ORIGIN}/oauth/authorize?response_type=code&client_id=$client_id&scope=profile"`,
  exchange: `curl -u $client_id:$client_secret -XPOST ${SEED_ORIGIN}/oauth/token \\
     -F grant_type=authorization_code -F scope=profile -F code=$code`,
  // The Authlib tutorial asks for a password grant without a scope.
  passwordNoScope: `curl -u \${client_id}:\${client_secret} -XPOST ${SEED_ORIGIN}/oauth/token -F grant_type=password -F username=\${username} -F password=\${password}`,
};

t.test('the Authlib example walkthrough, verbatim, with curl', async (t) => {
  const { url, app } = await startServer(t);
  const here = (command: string) => command.replaceAll(SEED_ORIGIN, url);
  // The example's password is "valid"; ours must be 8 characters or more. No spaces: the example leaves it unquoted.
  const user = await createUser(app, uniqueName('gyl'), 'valid-password');
  const client = await createClient(app); // the example's client: test, https://authlib.org/, authorization_code + password (+ refresh_token), profile
  const vars: Record<string, string> = {
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    username: user.username,
    password: user.password,
  };

  const shell = async (command: string) => {
    const { stdout } = await run('sh', ['-c', here(command)], { env: { ...process.env, ...vars }, timeout: 20_000 });
    return stdout;
  };
  const curlJson = async (command: string) => {
    const out = await shell(command);
    try {
      return JSON.parse(out);
    } catch {
      throw new Error(`not JSON from ${command}: ${out}`);
    }
  };

  t.test('5.1 password grant', async (t) => {
    const body = await curlJson(WALKTHROUGH.password);
    t.same(
      Object.keys(body),
      ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'],
      "the fields of the Authlib example's answer",
    );
    t.equal(body.scope, 'profile');
    t.equal(body.token_type, 'Bearer');
    t.type(body.expires_in, 'number');
    vars.access_token = body.access_token;
  });

  t.test('5.2 /api/me with the access token', async (t) => {
    const body = await curlJson(WALKTHROUGH.me);
    t.same(body, { id: user.id, username: user.username });
  });

  t.test('6.1 the authorization URL, in a browser: sign in, allow, back at the redirect URI with a code', async (t) => {
    const opened = await shell(WALKTHROUGH.open.replace(/^open /, 'printf %s '));
    t.match(opened, new RegExp(`^${url}/oauth/authorize\\?response_type=code&client_id=${client.clientId}&scope=profile$`));
    const back = returned(await signInAndConsent(new BrowserSession(url), opened, user));
    t.equal(`${back.origin}${back.pathname}`, 'https://authlib.org/', 'redirected to ${redirect_uri}/?code=${code}');
    const code = back.searchParams.get('code');
    t.ok(code);
    vars.code = code!;
  });

  t.test('6.1.3 the code exchange (with the stray -F scope=profile)', async (t) => {
    const body = await curlJson(WALKTHROUGH.exchange);
    t.same(
      Object.keys(body),
      ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'],
      "the Authlib example's fields, and a refresh token: the client may refresh",
    );
    t.equal(body.scope, 'profile');
    t.equal(body.token_type, 'Bearer');
    vars.access_token = body.access_token;
    vars.refresh_token = body.refresh_token;
  });

  t.test('6.1.4 /api/me with the new access token', async (t) => {
    t.same(await curlJson(WALKTHROUGH.me), { id: user.id, username: user.username });
  });

  t.test('the code is used once', async (t) => {
    const body = await curlJson(WALKTHROUGH.exchange);
    t.equal(body.error, 'invalid_grant');
  });

  t.test("the Authlib tutorial: the password grant without a scope gets the client's scope", async (t) => {
    const body = await curlJson(WALKTHROUGH.passwordNoScope);
    t.equal(body.scope, 'profile');
    vars.access_token = body.access_token;
    t.same(await curlJson(WALKTHROUGH.me), { id: user.id, username: user.username });
  });

  t.test('a wrong password, as curl sees it', async (t) => {
    const { stdout } = await run('sh', ['-c', `${here(WALKTHROUGH.password)} -w '\\n%{http_code}'`], {
      env: { ...process.env, ...vars, password: 'not-the-password' },
      timeout: 20_000,
    });
    const [body, status] = stdout.split('\n');
    t.equal(status, '400');
    t.equal(JSON.parse(body!).error, 'invalid_grant');
  });
});
