import t from 'tap';
import { parseJsonOutput, refused, runCli, succeeded } from './helpers/cli.js';
import { onPostgres } from './helpers/database.js';
import { basic } from './helpers/http.js';
import { startServer } from './helpers/server.js';

// Every command is a new process opening the database: slow on a busy machine.
t.setTimeout(300_000);

function clientCredentials(url: string, clientId: string, clientSecret: string): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'profile' }),
  });
}

t.test(
  'the embedded database: while a server holds DATA_DIR the command line says so and stops',
  { skip: onPostgres && 'PostgreSQL admits many processes' },
  async (t) => {
    const server = await startServer(t);
    const result = await runCli(server.fresh, ['client', 'list', '--json']);
    const line = refused(t, result, 1, 'client list while a server runs');
    t.match(
      line,
      new RegExp(
        `^latchkey: the embedded database in ${server.fresh.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by process ${process.pid} \\(stop it, or use the web pages\\)$`,
      ),
    );
    const health = await fetch(`${server.url}/readyz`);
    t.equal(health.status, 200, 'the server goes on undisturbed');

    await server.app.close();
    succeeded(t, await runCli(server.fresh, ['client', 'list']), 'client list once the server has stopped');
  },
);

t.test(
  'PostgreSQL: the command line works while servers run, and they see its changes at once',
  { skip: !onPostgres && 'the embedded database admits one process' },
  async (t) => {
    const server = await startServer(t);
    const created = await runCli(server.fresh, [
      'client',
      'create',
      '--name',
      'live',
      '--grant-type',
      'client_credentials',
      '--scope',
      'profile',
      '--json',
    ]);
    succeeded(t, created, 'client create while a server runs');
    const client = parseJsonOutput(created);
    const clientId = String(client.client_id);
    t.equal(
      (await clientCredentials(server.url, clientId, String(client.client_secret))).status,
      200,
      'the running server knows the new client',
    );

    const rotated = parseJsonOutput(await runCli(server.fresh, ['client', 'rotate-secret', clientId, '--json']));
    t.equal(
      (await clientCredentials(server.url, clientId, String(client.client_secret))).status,
      401,
      'the old secret stops working at once',
    );
    t.equal((await clientCredentials(server.url, clientId, String(rotated.client_secret))).status, 200, 'the new one works');

    succeeded(t, await runCli(server.fresh, ['client', 'delete', clientId]), 'client delete while a server runs');
    t.equal(
      (await clientCredentials(server.url, clientId, String(rotated.client_secret))).status,
      401,
      'a deleted client is refused at once',
    );
  },
);
