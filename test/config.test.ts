import t from 'tap';
import { spawn } from 'node:child_process';
import { ConfigError, loadConfig } from '../src/config.js';

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

t.test('defaults', async (t) => {
  const config = loadConfig({});
  t.match(config, {
    port: 5000,
    host: '127.0.0.1',
    issuer: 'http://127.0.0.1:5000',
    databaseUrl: undefined,
    accessTokenTtl: 3600,
    refreshTokenTtl: 1209600,
    resourceTokenTtl: 300,
    trustProxy: false,
    logLevel: 'info',
    tokenRateLimit: 0,
    workers: 1,
    implicitGrant: true,
    registration: 'token',
    registrationRateLimit: 20,
  });
  t.equal(loadConfig({ REGISTRATION: 'Open' }).registration, 'open', 'REGISTRATION is read case-insensitively');
  t.equal(loadConfig({ REGISTRATION: 'off' }).registration, 'off');
  t.equal(loadConfig({ PORT: '8080' }).issuer, 'http://127.0.0.1:8080', 'the issuer follows PORT');
  t.equal(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer, 'https://auth.example.com');
  t.ok(loadConfig({ WORKERS: 'auto' }).workers >= 1);
});

const bad: Array<[Record<string, string>, RegExp]> = [
  [{ PORT: 'abc' }, /^latchkey: PORT must be a whole number/],
  [{ PORT: '70000' }, /^latchkey: PORT must be between/],
  [{ DATABASE_URL: 'not a url' }, /^latchkey: DATABASE_URL must be a postgres:\/\/ URL/],
  [{ DATABASE_URL: 'mysql://localhost/db' }, /^latchkey: DATABASE_URL must start with postgres:\/\//],
  [{ ISSUER: 'localhost:5000' }, /^latchkey: ISSUER must/],
  [{ ISSUER: 'https://example.com/auth' }, /^latchkey: ISSUER must be the server's root/],
  [{ ACCESS_TOKEN_TTL: '-5' }, /^latchkey: ACCESS_TOKEN_TTL must be a whole number/],
  [{ REFRESH_TOKEN_TTL: '1.5' }, /^latchkey: REFRESH_TOKEN_TTL must be a whole number/],
  [{ TRUST_PROXY: 'maybe' }, /^latchkey: TRUST_PROXY must be true or false/],
  [{ LOG_LEVEL: 'loud' }, /^latchkey: LOG_LEVEL must be one of/],
  [{ TOKEN_RATE_LIMIT: 'many' }, /^latchkey: TOKEN_RATE_LIMIT must be a whole number/],
  [{ WORKERS: 'lots' }, /^latchkey: WORKERS must be a whole number/],
  [{ REGISTRATION: 'anyone' }, /^latchkey: REGISTRATION must be one of token, open, off/],
  [{ REGISTRATION_RATE_LIMIT: 'lots' }, /^latchkey: REGISTRATION_RATE_LIMIT must be a whole number/],
  [{ IMPLICIT_GRANT: 'sometimes' }, /^latchkey: IMPLICIT_GRANT must be true or false/],
];

for (const [env, message] of bad) {
  const [name] = Object.keys(env);
  t.test(`a bad ${name} stops start-up with one line`, async (t) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      thrown = err;
    }
    t.ok(thrown instanceof ConfigError, 'loadConfig throws a ConfigError');
    const { code, stderr, stdout } = await start(env);
    t.equal(code, 1, 'exits non-zero');
    const lines = stderr.split('\n').filter((l) => l && !l.includes('oidc-provider WARNING') && !l.includes('ExperimentalWarning'));
    t.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
    t.match(lines[0], message);
    t.notMatch(stderr, /\n\s+at /, 'no stack trace');
    t.equal(stdout, '', 'nothing on stdout');
  });
}
