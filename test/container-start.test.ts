import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { freshDatabase } from './helpers/database.js';
import { freePort } from './helpers/server.js';
import { ROOT, spawnServer } from './helpers/process.js';

/**
 * The container, checked as far as this machine allows without a Docker engine (CI also builds
 * and runs the image with tools/dockerfile-check): the Dockerfile's and compose file's promises,
 * and the image's exact start command on the image's file layout, with a fresh database.
 */

t.setTimeout(300_000);
const run = promisify(execFile);

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(dockerfile: string): Array<{ op: string; args: string }> {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
const finalStage = dockerfile.slice(dockerfile.map((i) => i.op).lastIndexOf('FROM'));
const healthcheck = finalStage.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
/** `npm start`, word by word: the image runs the server the same way. */
const startCommand = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  .trim()
  .split(/\s+/);
const healthcheckCommand = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3)) as string[];

t.test('Dockerfile', async (t) => {
  const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args);
  t.ok(froms.length >= 2, 'multi-stage');
  for (const from of froms) t.match(from, /^node:24(\.\d+)*-(slim|bookworm-slim)\b/, `Node 24 LTS slim base (${from})`);
  const build = dockerfile.slice(0, dockerfile.map((i) => i.op).lastIndexOf('FROM'));
  t.ok(
    build.some((i) => i.op === 'RUN' && /npm ci\b/.test(i.args)),
    'the build stage installs with npm ci',
  );
  t.ok(
    build.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)),
    'and compiles',
  );
  t.ok(
    finalStage.some((i) => i.op === 'RUN' && /npm ci .*--omit=dev/.test(i.args)),
    'the final stage installs production dependencies only',
  );
  for (const dir of ['dist', 'db', 'views'])
    t.ok(
      finalStage.some((i) => i.op === 'COPY' && new RegExp(`\\b${dir}\\b`).test(i.args)),
      `copies ${dir}/`,
    );
  const user = finalStage.filter((i) => i.op === 'USER').at(-1)?.args;
  t.ok(user && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (${user})`);
  const env = finalStage
    .filter((i) => i.op === 'ENV')
    .map((i) => i.args)
    .join(' ');
  t.match(env, /HOST=0\.0\.0\.0/);
  t.match(env, /NODE_ENV=production/);
  t.match(env, /MALLOC_ARENA_MAX=2/, 'two malloc arenas: memory held by idle threads stays bounded');
  t.ok(
    finalStage.some((i) => i.op === 'EXPOSE' && /\b5000\b/.test(i.args)),
    'EXPOSE 5000',
  );
  t.match(healthcheck, /CMD \[/, 'HEALTHCHECK in exec form');
  t.match(healthcheckCommand.join(' '), /\/healthz/, 'HEALTHCHECK asks /healthz');
  t.same(
    JSON.parse(finalStage.find((i) => i.op === 'CMD')?.args ?? 'null'),
    startCommand,
    'CMD in exec form (node gets the signals), the command of npm start',
  );
  const ignore = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
  for (const entry of ['node_modules', '.git', 'dist', 'data']) t.ok(ignore.includes(entry), `.dockerignore leaves out ${entry}`);
});

t.test('docker-compose.yml', async (t) => {
  const compose = parseYaml(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      {
        image?: string;
        build?: unknown;
        environment?: Record<string, string>;
        healthcheck?: { test: string[] };
        volumes?: string[];
        depends_on?: Record<string, { condition: string }>;
      }
    >;
    volumes?: Record<string, unknown>;
  };
  const db = compose.services.db!;
  t.match(db.image, /^postgres:16\b/, 'PostgreSQL 16');
  t.match(db.healthcheck?.test.join(' '), /pg_isready/, 'with a healthcheck');
  const volume = db.volumes?.[0]?.split(':')[0];
  t.ok(volume && compose.volumes && volume in compose.volumes, `on a named volume (${volume})`);
  const app = compose.services.app!;
  t.ok(app.build, 'the app is built from this Dockerfile');
  t.match(app.environment?.DATABASE_URL, /^postgres:\/\/[^@]+@db:5432\//, 'DATABASE_URL points at the db service');
  t.ok(app.environment?.ISSUER, 'ISSUER is set');
  t.same(app.depends_on?.db, { condition: 'service_healthy' }, 'the app waits for a healthy database');
});

/** Bare package names imported by the compiled code. */
async function importedPackages(dir: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const entry of await readdir(dir, { recursive: true })) {
    if (!entry.endsWith('.js')) continue;
    const code = await readFile(join(dir, entry), 'utf8');
    for (const match of code.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"./][^'"]*)['"]/g)) {
      const spec = match[1]!;
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return names;
}

t.test("the image's start command on the image's layout, with a fresh database", async (t) => {
  const app = await mkdtemp(join(tmpdir(), 'latchkey-image-'));
  t.teardown(() => rm(app, { recursive: true, force: true }));
  // As the build stage: npm run build (here into the image's layout, not the work tree's dist/).
  await run(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(app, 'dist'),
      '--tsBuildInfoFile',
      join(app, '.tsbuildinfo'),
    ],
    { cwd: ROOT },
  ).catch((err: { stdout?: string }) => {
    t.comment(`tsc reported problems (the work tree may hold others' unfinished changes):\n${err.stdout?.slice(0, 2000)}`);
  });
  // As the final stage: COPY dist, db, views and package.json; production node_modules.
  await cp(join(ROOT, 'db'), join(app, 'db'), { recursive: true });
  await cp(join(ROOT, 'views'), join(app, 'views'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  await mkdir(join(app, 'data'));
  await writeFile(join(app, 'README'), 'test copy of the image layout\n');

  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const imported = await importedPackages(join(app, 'dist'));
  const devOnly = [...imported].filter((name) => !(name in pkg.dependencies));
  t.same(devOnly, [], `the compiled code imports only production dependencies (${[...imported].join(', ')})`);

  const fresh = await freshDatabase(t);
  const port = await freePort();
  const server = await spawnServer(t, {
    fresh,
    cwd: app,
    args: startCommand.slice(1),
    env: { NODE_ENV: 'production', HOST: '0.0.0.0', PORT: String(port), DATA_DIR: join(app, 'data') },
  });
  t.equal((await fetch(`${server.url}/readyz`)).status, 200, 'ready: the database answers');
  const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    token_endpoint: string;
  };
  t.equal(discovery.issuer, `http://127.0.0.1:${port}`);
  t.equal(discovery.token_endpoint, `http://127.0.0.1:${port}/oauth/token`);
  t.equal((await fetch(`${server.url}/`)).status, 200, 'the home page renders (views/ found)');
  // Bound to 0.0.0.0, Fastify names every address it listens on (the test talks only to 127.0.0.1).
  const listening = [...server.output().matchAll(/"msg":"Server listening at http:\/\/([^:"]+):\d+"/g)].map((m) => m[1]);
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal && i.family === 'IPv4').length;
  t.ok(listening.includes('0.0.0.0') || listening.length > Math.min(1, external), `listening on every interface (${listening.join(', ')})`);

  const probe = await run(healthcheckCommand[0]!, healthcheckCommand.slice(1), { env: { ...process.env, PORT: String(port) } }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? 1,
  );
  t.equal(probe, 0, "the image's HEALTHCHECK command passes against it");

  server.child.kill('SIGTERM');
  t.equal((await server.exited).code, 0, 'SIGTERM: a clean exit');
  const unhealthy = await run(healthcheckCommand[0]!, healthcheckCommand.slice(1), { env: { ...process.env, PORT: String(port) } }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? 1,
  );
  t.equal(unhealthy, 1, 'and fails once the server is gone');

  const database = fresh.databaseUrl
    ? await fresh.open()
    : await import('../src/db/connect.js').then((m) => m.openDatabase({ databaseUrl: undefined, dataDir: join(app, 'data') }));
  t.teardown(() => database.close());
  const applied = (await database.db.selectFrom('schema_migrations').select('name').execute()).map((r) => r.name).sort();
  const files = (await readdir(join(ROOT, 'db/migrations'))).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  t.same(applied, files, 'every migration was applied on the fresh database');
});
