import { AccountError, validPassword, validUsername } from '../accounts/store.js';
import { flag, requiredString } from './args.js';
import type { Command } from './command.js';
import { CliError, UsageError } from './errors.js';
import { readPasswordLine } from './password-stdin.js';
import { printable } from './text.js';

export const userCreate: Command = {
  name: 'user create',
  synopsis: '--username NAME --password-stdin',
  summary: 'create an account; the password is the first line of standard input',
  options: { username: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
  positionals: [],
  async run(args, env) {
    const requested = requiredString(args, 'username');
    if (!flag(args, 'password-stdin')) {
      throw new UsageError('"user create" reads the password from standard input: add --password-stdin and pipe it in');
    }
    const cannot = (err: unknown) => {
      if (err instanceof AccountError) return new CliError(`cannot create user "${printable(requested.trim())}": ${err.message}`);
      return err;
    };
    let username: string;
    let password: string;
    try {
      username = validUsername(requested);
      password = validPassword(await readPasswordLine(env.stdin));
    } catch (err) {
      throw cannot(err);
    }
    const session = await env.session();
    const account = await session.accounts.create(username, password).catch((err: unknown) => {
      throw cannot(err);
    });
    session.audit('account.created', { username: account.username, account_id: account.id });
    return {
      text: `Created user ${printable(account.username)} (id ${account.id}).`,
      json: { id: account.id, username: account.username, created_at: Math.floor(account.createdAt.getTime() / 1000) },
    };
  },
};
