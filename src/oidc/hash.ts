import { createHash } from 'node:crypto';

/** SHA-256, hex: how ids, secrets and lookup keys are stored. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
