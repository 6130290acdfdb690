import { randomBytes } from 'node:crypto';

/**
 * A new client id: 24 base64url characters (144 bits), never starting with "-", which a
 * command line (ours: `latchkey client delete <id>`, or curl's) would read as an option.
 * Ids that do are drawn again, so every id that remains is as likely as any other.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(18).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A new client secret: 48 base64url characters (288 bits). */
export const newClientSecret = (): string => randomBytes(36).toString('base64url');
