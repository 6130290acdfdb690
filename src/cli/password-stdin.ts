import type { Readable } from 'node:stream';
import { PASSWORD_MAX } from '../accounts/store.js';
import { CliError } from './errors.js';

const EXAMPLE = `printf '%s\\n' "$PASSWORD" | latchkey user create --username NAME --password-stdin`;

/**
 * The first line of standard input, without its line ending. Only from a pipe or a file:
 * typed at a terminal it would be echoed on the screen.
 */
export async function readPasswordLine(stdin: Readable & { isTTY?: boolean }): Promise<string> {
  if (stdin.isTTY) throw new CliError(`--password-stdin reads the password from a pipe, not from a terminal: ${EXAMPLE}`);
  stdin.setEncoding('utf8');
  let text = '';
  let ended = true;
  for await (const chunk of stdin) {
    text += chunk as string;
    const newline = text.indexOf('\n');
    if (newline >= 0) {
      text = text.slice(0, newline);
      ended = false;
      break;
    }
    if (text.length > 4 * PASSWORD_MAX) break;
  }
  if (!ended) stdin.destroy();
  const password = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (!password) throw new CliError(`no password on standard input: ${EXAMPLE}`);
  if (password.length > PASSWORD_MAX) throw new CliError(`the password must be at most ${PASSWORD_MAX} characters`);
  return password;
}
