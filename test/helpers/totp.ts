import { Secret, TOTP } from 'otpauth';
import { decodeEntities, type Page } from './browser-session.js';

/** The code an authenticator app shows for this secret, `steps` time steps from now (30 s each). */
export function codeFor(secret: string, steps = 0): string {
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret.replace(/\s/g, '')) });
  return totp.generate({ timestamp: Date.now() + steps * 30_000 });
}

/** The Secret shown by Set up authenticator app, as a person would copy it. */
export function secretOf(page: Page): string {
  const shown = /<code id="totp-secret">([^<]*)<\/code>/.exec(page.html)?.[1];
  if (!shown) throw new Error('no Secret on the page');
  return decodeEntities(shown).replace(/\s/g, '');
}

/** The recovery codes shown once after Turn on. */
export function recoveryCodesOf(page: Page): string[] {
  const list = /<ul class="recovery-codes"[^>]*>([\s\S]*?)<\/ul>/.exec(page.html)?.[1] ?? '';
  return [...list.matchAll(/<code>([^<]*)<\/code>/g)].map((m) => m[1]!);
}
