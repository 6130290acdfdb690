import { request as httpRequest } from 'node:http';
import t from 'tap';
import { freshDatabase } from './helpers/database.js';
import { basic } from './helpers/http.js';
import { createClient, createUser } from './helpers/fixtures.js';
import { token, type Client } from './helpers/oauth.js';
import { spawnServer, withApp } from './helpers/process.js';

const LOOPS = 6;
const LOAD_MS = 1500;
/** Requests launched this long before SIGTERM have surely reached the server. */
const SETTLE_MS = 40;

// SIGTERM under load: the server stops accepting, finishes every request it already has, and exits 0.
t.test('SIGTERM lets every request in flight finish', async (t) => {
  const fresh = await freshDatabase(t);
  const { client, user } = await withApp(fresh, async (app) => {
    const user = await createUser(app);
    const issued = await createClient(app, { grant_types: ['password', 'client_credentials'], response_types: [] });
    return { user, client: { clientId: issued.clientId, clientSecret: issued.clientSecret } as Client };
  });
  const server = await spawnServer(t, { fresh });

  let launching = true;
  let inFlight = 0;
  let closing = 0;
  const outcomes: Array<number | string> = [];
  // Password grants take a while; client credentials are quick. Both can finish before the
  // signal is handled, so one more request is surely in flight: its body arrives after SIGTERM.
  const once = async (i: number) => {
    inFlight++;
    try {
      const res =
        i % 3 === 0
          ? await token(
              server.url,
              client,
              { grant_type: 'password', username: user.username, password: user.password, scope: 'profile' },
              'urlencoded',
            )
          : await token(server.url, client, { grant_type: 'client_credentials' }, 'urlencoded');
      outcomes.push(res.status === 200 && res.body.access_token ? 200 : res.status);
      if (res.headers.get('connection') === 'close') closing++;
    } catch (err) {
      outcomes.push(`${(err as Error).message}: ${String((err as { cause?: unknown }).cause)}`);
    } finally {
      inFlight--;
    }
  };
  const loops = Array.from({ length: LOOPS }, async (_, loop) => {
    for (let i = loop; launching; i++) await once(i);
  });

  await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
  launching = false;
  const body = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
  let finishUpload!: () => void;
  const upload = new Promise<void>((resolve) => {
    inFlight++;
    const req = httpRequest(
      `${server.url}/oauth/token`,
      {
        method: 'POST',
        headers: {
          authorization: basic(client.clientId, client.clientSecret ?? ''),
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(body.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          outcomes.push(res.statusCode ?? 0);
          if (res.headers.connection === 'close') closing++;
          inFlight--;
          resolve();
        });
      },
    );
    req.on('error', (err) => {
      outcomes.push(`slow upload: ${err.message}`);
      inFlight--;
      resolve();
    });
    req.write(body.slice(0, 5));
    finishUpload = () => req.end(body.slice(5));
  });
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const caught = inFlight;
  server.child.kill('SIGTERM');
  setTimeout(() => finishUpload(), 200);
  await Promise.all([...loops, upload]);
  const exit = await server.exited;

  t.ok(caught >= 1, `requests were in flight when SIGTERM arrived (${caught})`);
  t.ok(outcomes.length >= LOOPS, `the server was under load (${outcomes.length} requests)`);
  const failed = outcomes.filter((outcome) => outcome !== 200);
  t.same(failed, [], 'no request failed');
  t.ok(closing >= 1, `responses during shutdown said Connection: close (${closing})`);
  t.equal(exit.code, 0, 'the server exited cleanly, without waiting for keep-alive connections');
  t.match(server.output(), /shutting down: finishing requests in flight/);
});
