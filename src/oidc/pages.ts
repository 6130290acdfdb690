import type { KoaContextWithOIDC } from 'oidc-provider';

/** Renders a template of views/ inside the layout (supplied by the app: @fastify/view). */
export type Render = (template: string, data: Record<string, unknown>) => Promise<string>;

// The provider's own pages answer outside Fastify, so they set the security headers themselves.
// form-action is left open: a form's redirect chain ends at the client's redirect URI.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

async function page(ctx: KoaContextWithOIDC, render: Render, template: string, data: Record<string, unknown>) {
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.body = await render(template, data);
}

const ERROR_TITLES: Record<string, string> = {
  invalid_redirect_uri: 'This application sent you with a return address it did not register.',
  invalid_client: 'This application is not known here.',
  invalid_request: 'The request was not valid.',
  temporarily_unavailable: 'The service is briefly unavailable. Please try again shortly.',
  server_error: 'Something went wrong on our side.',
};

/** The pages oidc-provider renders itself: errors, logout, and the device flow's user code. */
export function providerPages(render: Render) {
  return {
    renderError: async (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) => {
      await page(ctx, render, 'error', {
        title: 'Sorry, that did not work',
        message: ERROR_TITLES[out.error] ?? 'The request could not be completed.',
        error: out.error,
        description: out.error_description,
      });
    },
    logout: {
      logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
        await page(ctx, render, 'logout', { providerForm: form, host: ctx.host });
      },
      postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
        await page(ctx, render, 'logout-done', { clientName: ctx.oidc.client?.clientName });
      },
    },
    deviceFlow: {
      userCodeInputSource: async (ctx: KoaContextWithOIDC, form: string, out?: { error_description?: string }, err?: { userCode?: string; message?: string }) => {
        const problem = err ? (out?.error_description ?? 'That code is not valid. Check it and try again.') : undefined;
        // The provider's input has neither an id (for our label) nor a handler our CSP would run.
        const labelled = form.replace('name="user_code"', 'id="user_code" name="user_code"').replace(/ onfocus="[^"]*"/, '');
        await page(ctx, render, 'device-input', { providerForm: labelled, problem });
      },
      userCodeConfirmSource: async (ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _device: unknown, userCode: string) => {
        await page(ctx, render, 'device-confirm', { providerForm: form, clientName: client.clientName ?? client.clientId, userCode });
      },
      successSource: async (ctx: KoaContextWithOIDC) => {
        await page(ctx, render, 'device-done', { clientName: ctx.oidc.client?.clientName });
      },
    },
  };
}
