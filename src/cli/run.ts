import type { Readable, Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../config.js';
import { DataDirBusyError } from '../db/data-dir-lock.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { parseCommandArgs } from './args.js';
import { clientCreate, clientDelete, clientList, clientRotateSecret, clientShow } from './clients.js';
import type { Command, CommandEnv } from './command.js';
import { CliError, oneLine, UsageError } from './errors.js';
import { keysRotate, migrateCommand, registrationTokenCreate } from './operations.js';
import { resourceCreate, resourceDelete, resourceList } from './resources.js';
import { CliSession } from './session.js';
import { userCreate } from './users.js';
import { userDelete, userDisable, userEnable, userList, userReset2fa, userSetPassword, userShow } from './user-admin.js';

export const COMMANDS: readonly Command[] = [
  migrateCommand,
  userCreate,
  userList,
  userShow,
  userSetPassword,
  userDisable,
  userEnable,
  userDelete,
  userReset2fa,
  clientCreate,
  clientList,
  clientShow,
  clientDelete,
  clientRotateSecret,
  registrationTokenCreate,
  keysRotate,
  resourceCreate,
  resourceList,
  resourceDelete,
];

export function helpText(): string {
  const commands = COMMANDS.map((c) => `  latchkey ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}\n      ${c.summary}`);
  return [
    'Usage: latchkey <command> [options] [--json]',
    '',
    ...commands,
    '',
    'With --json a command prints exactly one JSON object on standard output, and nothing else.',
    "The database is the server's: DATABASE_URL (PostgreSQL) or else the embedded one in DATA_DIR (default ./data).",
    'Exit status: 0 done, 1 failed, 2 bad usage; the reason is one line on standard error.',
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { command: Command; rest: string[] } {
  const [first, second] = argv;
  if (first === undefined) throw new UsageError('no command given (see latchkey --help)');
  if (first.startsWith('-')) throw new UsageError(`the command comes first, before ${first} (see latchkey --help)`);
  const single = COMMANDS.find((c) => c.name === first);
  if (single) return { command: single, rest: argv.slice(1) };
  const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
  if (!subcommands.length) throw new UsageError(`unknown command "${first}" (see latchkey --help)`);
  const command = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (command) return { command, rest: argv.slice(2) };
  const known = subcommands.join(', ');
  if (second === undefined || second.startsWith('-')) throw new UsageError(`"${first}" needs a subcommand: ${known}`);
  throw new UsageError(`unknown command "${first} ${second}" ("${first}" has: ${known})`);
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return messageOf(err.errors[0]);
  if (err instanceof Error) return err.message || errorCode(err) || err.name;
  return String(err);
}

/** Every failure as the one line the operator reads. */
function describe(err: unknown): string {
  if (err instanceof CliError || err instanceof ConfigError || err instanceof DataDirBusyError) return err.message;
  const code = errorCode(err);
  if (isDatabaseUnavailable(err) || code === '3D000' || code === '28P01' || code === '28000') {
    const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
    return `cannot reach the database at DATABASE_URL: ${messageOf(cause)}`;
  }
  return `failed: ${messageOf(err)}`;
}

export interface CliIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
}

/** Runs one command line; returns the exit status. Never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let session: CliSession | undefined;
  try {
    if (argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
      io.stdout.write(helpText());
      return 0;
    }
    const { command, rest } = findCommand(argv);
    const args = parseCommandArgs(command.name, rest, command.options, command.positionals);
    const env: CommandEnv = {
      stdin: io.stdin,
      session: async () => (session ??= await CliSession.open(loadConfig())),
    };
    const output = await command.run(args, env);
    io.stdout.write(args.json ? `${JSON.stringify(output.json)}\n` : `${output.text}\n`);
    return 0;
  } catch (err) {
    io.stderr.write(`latchkey: ${oneLine(describe(err))}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  } finally {
    await session?.close().catch(() => {});
  }
}
