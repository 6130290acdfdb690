import { rotateKeys } from '../oidc/keys.js';
import type { Command } from './command.js';
import { isoTime } from './text.js';

const ID_TOKEN_TTL = 3600;
const CLOCK_SKEW = 300;
const INITIAL_ACCESS_TOKEN_TTL = 24 * 3600;

export const migrateCommand: Command = {
  name: 'migrate',
  synopsis: '',
  summary: 'apply the database migrations not yet applied (every command does this first)',
  options: {},
  positionals: [],
  async run(_args, env) {
    const applied = (await env.session()).appliedMigrations;
    return {
      text: applied.length ? `Applied ${applied.join(', ')}.` : 'The database is up to date.',
      json: { applied },
    };
  },
};

export const registrationTokenCreate: Command = {
  name: 'registration-token create',
  synopsis: '',
  summary: 'an initial access token for POST /oauth/register (valid 24 hours, shown once)',
  options: {},
  positionals: [],
  async run(_args, env) {
    const session = await env.session();
    const { createInitialAccessToken } = await import('../oidc/extensions/registration.js');
    const { token, expiresAt } = await createInitialAccessToken(await session.provider(), INITIAL_ACCESS_TOKEN_TTL);
    session.audit('registration_token.created', { expires_at: expiresAt });
    const register = `${session.config.issuer}/oauth/register`;
    return {
      text: [
        `Initial access token (shown only now): ${token}`,
        `It registers clients at ${register} until ${isoTime(expiresAt)} (24 hours), for example:`,
        `  curl -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" \\`,
        `       -d '{"client_name": "my app", "redirect_uris": ["https://app.example/callback"]}' ${register}`,
      ].join('\n'),
      json: { initial_access_token: token, expires_at: expiresAt },
    };
  },
};

export const keysRotate: Command = {
  name: 'keys rotate',
  synopsis: '',
  summary: 'new signing and cookie keys; the previous ones verify until what they signed expires',
  options: {},
  positionals: [],
  async run(_args, env) {
    const session = await env.session();
    // The longest-lived signed thing: an id token (1 hour) or an access token, plus clock skew.
    const keepOldFor = Math.max(ID_TOKEN_TTL, session.config.accessTokenTtl, session.config.resourceTokenTtl) + CLOCK_SKEW;
    const kids = await rotateKeys(session.db, keepOldFor);
    const retireAt = Math.floor(Date.now() / 1000) + keepOldFor;
    session.audit('key.rotated', { kids, previous_keys_retire_at: retireAt });
    return {
      text: [
        `New signing keys: ${kids.join(', ')} (and a new cookie key).`,
        `The previous signing keys stay published, for verification only, until ${isoTime(retireAt)} (${keepOldFor} seconds).`,
        'Running servers pick the new keys up when they restart: restart them to sign with the new keys.',
      ].join('\n'),
      json: { kids, previous_keys_retire_at: retireAt },
    };
  },
};
