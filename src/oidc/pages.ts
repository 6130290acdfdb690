import type { KoaContextWithOIDC } from 'oidc-provider';
import type { PageHeaders } from '../http/security-headers.js';

/**
 * Renders a template of views/ inside the layout (supplied by the app: @fastify/view). Given the
 * provider's context, the app adds what the layout shows of the signed-in person.
 */
export type Render = (template: string, data: Record<string, unknown>, ctx?: KoaContextWithOIDC) => Promise<string>;

/** The provider's own pages answer outside Fastify, so they get the pages' headers here. */
async function page(ctx: KoaContextWithOIDC, render: Render, headers: PageHeaders, template: string, data: Record<string, unknown>) {
  await new Promise<void>((resolve, reject) => headers(ctx.req, ctx.res, (err?: unknown) => (err ? reject(err as Error) : resolve())));
  ctx.type = 'html';
  ctx.body = await render(template, data, ctx);
}

const ERROR_TITLES: Record<string, string> = {
  invalid_redirect_uri: 'This application sent you with a return address it did not register.',
  invalid_client: 'This application is not known here.',
  invalid_request: 'The request was not valid.',
  temporarily_unavailable: 'The service is briefly unavailable. Please try again shortly.',
  server_error: 'Something went wrong on our side.',
};

/** The pages oidc-provider renders itself: errors, logout, and the device flow's user code. */
export function providerPages(render: Render, headers: PageHeaders) {
  return {
    renderError: async (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) => {
      await page(ctx, render, headers, 'error', {
        title: 'Sorry, that did not work',
        message: ERROR_TITLES[out.error] ?? 'The request could not be completed.',
        error: out.error,
        description: out.error_description,
      });
    },
    logout: {
      logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
        await page(ctx, render, headers, 'logout', { providerForm: form, host: ctx.host });
      },
      postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
        await page(ctx, render, headers, 'logout-done', { clientName: ctx.oidc.client?.clientName });
      },
    },
    deviceFlow: {
      userCodeInputSource: async (
        ctx: KoaContextWithOIDC,
        form: string,
        out?: { error_description?: string },
        err?: { userCode?: string; message?: string },
      ) => {
        const problem = err ? (out?.error_description ?? 'That code is not valid. Check it and try again.') : undefined;
        // The provider's input has neither an id (for our label) nor a handler our CSP would run.
        const labelled = form.replace('name="user_code"', 'id="user_code" name="user_code"').replace(/ onfocus="[^"]*"/, '');
        await page(ctx, render, headers, 'device-input', { providerForm: labelled, problem });
      },
      userCodeConfirmSource: async (
        ctx: KoaContextWithOIDC,
        form: string,
        client: { clientName?: string; clientId: string },
        _device: unknown,
        userCode: string,
      ) => {
        await page(ctx, render, headers, 'device-confirm', {
          providerForm: form,
          clientName: client.clientName ?? client.clientId,
          userCode,
        });
      },
      successSource: async (ctx: KoaContextWithOIDC) => {
        await page(ctx, render, headers, 'device-done', { clientName: ctx.oidc.client?.clientName });
      },
    },
  };
}
