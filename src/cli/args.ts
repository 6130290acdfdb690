import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedArgs {
  command: string;
  options: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  json: boolean;
}

/** Node's parseArgs errors, said in one line of our own words. */
function usageMessage(command: string, err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  const option = quoted.split(' ')[0];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      if (option === '--password') return 'passwords are never taken as arguments: pipe the password in and use --password-stdin';
      return `unknown option ${option} for "${command}" (see latchkey --help; a value that starts with "-" goes after --)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${option} takes no value`;
      return `${option} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}" for "${command}"`;
    default:
      return err.message.split('\n')[0] ?? 'bad arguments';
  }
}

/**
 * Parses a command's arguments strictly: only its own options (plus --json), exactly its
 * positionals, and a single-valued option at most once.
 */
export function parseCommandArgs(command: string, args: string[], specs: OptionSpecs, positionalNames: string[]): ParsedArgs {
  const options: OptionSpecs = { ...specs, json: { type: 'boolean' } };
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionalNames.length > 0, tokens: true });
  } catch (err) {
    throw new UsageError(usageMessage(command, err as Error & { code?: string }));
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`${token.rawName} is given more than once`);
    seen.add(token.name);
  }
  const [extra] = parsed.positionals.slice(positionalNames.length);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" for "${command}"`);
  const missing = positionalNames[parsed.positionals.length];
  if (missing) throw new UsageError(`"${command}" needs ${missing}`);
  const { json, ...rest } = parsed.values;
  return { command, options: rest, positionals: parsed.positionals, json: json === true };
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredString(args: ParsedArgs, name: string): string {
  const value = stringOption(args, name);
  if (value === undefined) throw new UsageError(`"${args.command}" needs --${name}`);
  return value;
}

export function stringList(args: ParsedArgs, name: string): string[] {
  const value = args.options[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}
