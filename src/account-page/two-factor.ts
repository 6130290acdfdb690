import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import type { Account } from '../accounts/store.js';
import type { TotpSetup } from '../accounts/two-factor.js';
import { textField } from '../http/form-fields.js';

/** What the Authenticator app section shows after a post. */
export interface TwoFactorForm {
  problem?: string;
  done?: string;
  /** A setup waiting for Turn on: the QR code (a data: URL the CSP allows for images) and the secret as text. */
  setup?: { qr: string; secret: string };
  /** Shown once, right after Turn on. */
  recoveryCodes?: string[];
}

interface AccountPage {
  render(request: FastifyRequest, reply: FastifyReply, account: Account, status: number, totp: TwoFactorForm): Promise<unknown>;
  wrongPassword(
    request: FastifyRequest,
    reply: FastifyReply,
    account: Account,
    password: string,
  ): Promise<{ status: number; problem: string } | undefined>;
}

async function setupView(setup: TotpSetup) {
  const qr = await QRCode.toDataURL(setup.uri, { errorCorrectionLevel: 'M', margin: 2, width: 220 });
  // Groups of four, as authenticator apps accept them typed.
  return { qr, secret: setup.secret.match(/.{1,4}/g)!.join(' ') };
}

/**
 * The Authenticator app section of /account: Set up (a new secret, kept unconfirmed until a
 * code of it is entered), Turn on (with ten recovery codes shown once) and Turn off (with the
 * current password, checked under the limits).
 */
export async function twoFactorRoutes(app: FastifyInstance, page: AccountPage): Promise<void> {
  const csrf = { preHandler: app.csrfProtection };
  const already = 'Two-factor sign-in is already on. Turn it off first to set up another authenticator app.';

  app.post('/account/totp/setup', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    const setup = await app.twoFactor.startSetup(account.id, account.username);
    if (!setup) return page.render(request, reply, account, 409, { problem: already });
    return page.render(request, reply, account, 200, { setup: await setupView(setup) });
  });

  app.post('/account/totp/enable', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    if (await app.twoFactor.isOn(account.id)) return page.render(request, reply, account, 409, { problem: already });
    const pending = await app.twoFactor.pendingSetup(account.id, account.username);
    if (!pending) return page.render(request, reply, account, 409, { problem: 'Start with Set up authenticator app.' });
    const code = textField(request.body, 'code');
    const setup = await setupView(pending);
    if (!/^\s*\d{3}\s?\d{3}\s*$/.test(code)) {
      return page.render(request, reply, account, 422, { setup, problem: 'Enter the 6-digit code your authenticator app shows.' });
    }
    const recoveryCodes = await app.twoFactor.turnOn(account.id, code);
    if (!recoveryCodes) {
      return page.render(request, reply, account, 422, {
        setup,
        problem: 'That code is not right. Check that your app was set up with this secret, and enter the code it shows now.',
      });
    }
    request.audit('totp.enabled', { account: account.id, via: 'account_page' });
    return page.render(request, reply, account, 200, {
      recoveryCodes,
      done: 'Two-factor sign-in is on. Each sign-in now asks for a code from your authenticator app.',
    });
  });

  app.post('/account/totp/disable', csrf, async (request, reply) => {
    const account = request.account;
    if (!account) return reply.redirect('/', 303);
    const wrong = await page.wrongPassword(request, reply, account, textField(request.body, 'current_password'));
    if (wrong) return page.render(request, reply, account, wrong.status, { problem: wrong.problem });
    if (!(await app.twoFactor.remove(account.id))) {
      return page.render(request, reply, account, 409, { problem: 'Two-factor sign-in is not on.' });
    }
    request.audit('totp.disabled', { account: account.id, via: 'account_page' });
    return page.render(request, reply, account, 200, { done: 'Two-factor sign-in is off. Your recovery codes no longer work.' });
  });
}
