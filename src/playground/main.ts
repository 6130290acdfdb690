import { buildPlayground } from './server.js';
import { PLAYGROUND_USAGE, PlaygroundArgsError, parsePlaygroundArgs, type PlaygroundOptions } from './options.js';

/** `npm run playground -- [--issuer URL] [--port N]`: the playground client, on its own port. */
let options: PlaygroundOptions | 'help';
try {
  options = parsePlaygroundArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof PlaygroundArgsError)) throw err;
  process.stderr.write(`playground: ${err.message}\n${PLAYGROUND_USAGE}\n`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(`${PLAYGROUND_USAGE}\n`);
  process.exit(0);
}

const { issuer, host, port, publicUrl } = options;
const app = await buildPlayground({ issuer, publicUrl, logLevel: 'warn' });
const close = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', close);
process.on('SIGTERM', close);
try {
  await app.listen({ host, port });
} catch (err) {
  const code = (err as { code?: string }).code;
  process.stderr.write(
    code === 'EADDRINUSE'
      ? `playground: port ${port} on ${host} is in use (use --port)\n`
      : `playground: could not start: ${(err as Error).message}\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `Playground: ${publicUrl.origin}/  (talking to ${issuer.origin})\n` +
    `Register a client at ${issuer.origin}/ with the redirect URI ${new URL('/callback', publicUrl).href}\n`,
);
