import { hash } from 'node:crypto';

/** SHA-256, hex: how ids, secrets and lookup keys are stored. */
export function sha256(value: string): string {
  return hash('sha256', value, 'hex');
}
