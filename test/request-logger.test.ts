import { Writable } from 'node:stream';
import t from 'tap';
import Fastify from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { loggerOptions } from '../src/observability/logging.js';
import { childLoggerFactory, RequestLogger } from '../src/observability/request-logger.js';

/** A pino logger with the app's options (redaction included) whose lines land in `lines`. */
function capture(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const options = loggerOptions(loadConfig({ LOG_LEVEL: level })) as pino.LoggerOptions;
  return { lines, logger: pino({ ...options, level }, stream) };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

t.test('a request logger writes what a pino child would, with the request id, and only at enabled levels', async (t) => {
  const { lines, logger } = capture('warn');
  const log = new RequestLogger(logger, { reqId: 'r-1' });
  t.equal(log.level, 'warn');
  t.notOk(log.isLevelEnabled('info'));
  log.info({ event: 'quiet' }, 'not written');
  log.debug('not written either');
  log.warn({ event: 'loud', body: { password: 'hunter2' } }, 'written');
  log.error(new Error('boom'), 'failed');
  await flush();
  t.equal(lines.length, 2, 'only warn and error are written');
  t.match(lines[0], { reqId: 'r-1', event: 'loud', msg: 'written', level: 40 });
  t.same(lines[0]!.body, { password: '[REDACTED]' }, 'the redaction rules still apply');
  t.match(lines[1], { reqId: 'r-1', msg: 'failed', err: { message: 'boom' } });

  log.level = 'debug';
  log.debug('now written');
  log.child({ step: 'inner' }).info('from a child');
  await flush();
  t.match(lines.slice(2), [
    { reqId: 'r-1', msg: 'now written', level: 20 },
    { reqId: 'r-1', step: 'inner', msg: 'from a child' },
  ]);
  t.equal(logger.level, 'warn', "a request's level does not change the app's");
});

t.test('Fastify requests log through it: handlers and errors carry their own request id', async (t) => {
  const { lines, logger } = capture('info');
  const app = Fastify({ loggerInstance: logger, childLoggerFactory });
  app.get('/hello', async (request) => {
    request.log.info({ event: 'handled' }, 'hello');
    return { ok: true };
  });
  app.get('/quiet', { logLevel: 'error' }, async (request) => {
    request.log.info('not written: this route logs errors only');
    return { ok: true };
  });
  app.get('/boom', async () => {
    throw new Error('kaboom');
  });
  t.teardown(() => app.close());
  t.equal((await app.inject({ url: '/hello' })).statusCode, 200);
  t.equal((await app.inject({ url: '/hello' })).statusCode, 200);
  t.equal((await app.inject({ url: '/quiet' })).statusCode, 200);
  t.equal((await app.inject({ url: '/boom' })).statusCode, 500);
  await flush();
  const handled = lines.filter((line) => line.event === 'handled');
  t.equal(handled.length, 2);
  t.ok(handled[0]!.reqId && handled[1]!.reqId && handled[0]!.reqId !== handled[1]!.reqId, 'each request its own id');
  t.notOk(
    lines.some((line) => String(line.msg).startsWith('not written')),
    "a route's own level applies",
  );
  t.match(
    lines.find((line) => line.err),
    { reqId: String, err: { message: 'kaboom' } },
    'the error of a failing request is logged with its id',
  );
});
