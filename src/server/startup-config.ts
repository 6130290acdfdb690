import { ConfigError, loadConfig, type Config } from '../config.js';

/** One line on standard error, exit status 1: how the server refuses to start. */
export function fail(message: string): never {
  process.stderr.write(`latchkey: ${message}\n`);
  process.exit(1);
}

/** The settings, or the one line that says which one is wrong. */
export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}
