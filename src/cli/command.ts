import type { Readable } from 'node:stream';
import type { OptionSpecs, ParsedArgs } from './args.js';
import type { CliSession } from './session.js';

/** What a command prints: text for people, one JSON object with --json. Exactly one is printed. */
export interface Output {
  text: string;
  json: Record<string, unknown>;
}

export interface CommandEnv {
  /** Opens the database (once) and migrates it; closed by the runner. */
  session(): Promise<CliSession>;
  stdin: Readable & { isTTY?: boolean };
}

export interface Command {
  /** The words that name it: "client create". */
  name: string;
  /** Its arguments as shown in the help. */
  synopsis: string;
  summary: string;
  options: OptionSpecs;
  positionals: string[];
  run(args: ParsedArgs, env: CommandEnv): Promise<Output>;
}
