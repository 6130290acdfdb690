import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, type Options } from '@node-rs/argon2';

/**
 * argon2id with OWASP's first line (m = 19 MiB, t = 2, p = 1). The parameters travel inside each
 * hash (PHC format: $argon2id$v=19$m=19456,t=2,p=1$salt$hash), so raising them later leaves older
 * hashes verifiable; needsRehash() says when a stored hash is not of today's parameters.
 */
export const ARGON2_PARAMS = { memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;
// The binding declares its Algorithm as a const enum, which isolated modules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as NonNullable<Options['algorithm']>;
const ARGON2_OPTIONS: Options = { algorithm: ARGON2ID, ...ARGON2_PARAMS, outputLen: 32 };
const CURRENT_PREFIX = `$argon2id$v=19$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}$`;

export const passwordHashLabel = () =>
  `argon2id m=${ARGON2_PARAMS.memoryCost / 1024} MiB t=${ARGON2_PARAMS.timeCost} p=${ARGON2_PARAMS.parallelism}`;

/** Passwords are compared in NFKC: the same password typed on two keyboards is the same. */
const normalized = (password: string) => password.normalize('NFKC');

export function hashPassword(password: string): Promise<string> {
  return argon2Hash(normalized(password), ARGON2_OPTIONS);
}

/** Hashes of earlier releases: scrypt$N$r$p$salt$hash (base64url), verified as they were made. */
function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, hash] = stored.split('$');
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!salt || !hash || !Number.isInteger(params.N) || !Number.isInteger(params.r) || !Number.isInteger(params.p)) {
    return Promise.resolve(false);
  }
  const expected = Buffer.from(hash, 'base64url');
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(normalized(password), Buffer.from(salt, 'base64url'), expected.length, options, (err, key) =>
      err ? reject(err) : resolve(key.length === expected.length && timingSafeEqual(key, expected)),
    );
  });
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('scrypt$')) return verifyScrypt(password, stored);
  if (!stored.startsWith('$argon2')) return false;
  try {
    return await argon2Verify(stored, normalized(password));
  } catch {
    return false; // a malformed stored hash
  }
}

/** Whether a hash that just verified should be replaced by one of today's algorithm and parameters. */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(CURRENT_PREFIX);
}

let dummyHash: Promise<string> | undefined;

/** Spends the time of a real check, so unknown usernames cannot be told apart by timing. */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await dummyHash);
}
