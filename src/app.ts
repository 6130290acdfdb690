import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import handlebars from 'handlebars';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/connect.js';
import { migrate } from './db/migrate.js';
import { startPurgeJob } from './db/purge.js';
import { AccountStore } from './accounts/store.js';
import { ClientStore } from './clients/store.js';
import { providerValidation } from './clients/provider-validation.js';
import { CredentialLimiter } from './ops/credential-limits.js';
import { ensureKeys, loadKeys } from './oidc/keys.js';
import { createProvider, SCOPES } from './oidc/provider.js';
import { mountProvider } from './oidc/mount.js';
import { installErrorHandler, installNotFoundHandler } from './ops/error-handler.js';
import { healthRoutes } from './ops/health.js';
import { apiRoutes } from './api/routes.js';
import { loggerOptions, requestIdOptions } from './ops/logging.js';
import { childLoggerFactory } from './ops/request-logger.js';
import { securityPlugin } from './ops/security.js';
import { viewPartials } from './ops/view-partials.js';
import { consolePlugin } from './accounts/console.js';
import { accountRoutes } from './accounts/routes.js';
import { interactionRoutes } from './interactions/routes.js';
import { connectedAppsRoutes } from './interactions/connected-apps.js';
import { clientRoutes } from './clients/routes.js';
import { chunkedBodyLimit } from './ops/body-limits.js';
import { parseForm } from './ops/form-limits.js';
import { observabilityPlugin } from './ops/observability.js';
import { observeProvider } from './ops/provider-events.js';
import { containProviderErrors } from './ops/provider-safety.js';
import { RateWindows } from './ops/rate-windows.js';
import { tokenRateLimitGuards } from './ops/token-rate-limit.js';

const VIEWS_DIR = fileURLToPath(new URL('../views/', import.meta.url));
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

export interface AppOptions {
  /** An already open database (tests share one); otherwise opened from the config. */
  database?: Database;
  /** Close the database with the app (default: only when the app opened it). */
  ownsDatabase?: boolean;
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const database = options.database ?? (await openDatabase(config));
  const ownsDatabase = options.ownsDatabase ?? !options.database;
  try {
    await migrate(database.db);
    await ensureKeys(database.db);
    const keys = await loadKeys(database.db);

    const app = Fastify({
      logger: loggerOptions(config),
      childLoggerFactory,
      ...requestIdOptions(),
      trustProxy: config.trustProxy,
      bodyLimit: 64 * 1024,
      connectionTimeout: 30_000,
      requestTimeout: 30_000,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
    });
    const accounts = new AccountStore(database.db);
    app.decorate('config', config);
    app.decorate('database', database);
    app.decorate('db', database.db);
    app.decorate('accounts', accounts);

    await app.register(view, {
      engine: { handlebars },
      root: VIEWS_DIR,
      layout: 'layouts/main.hbs',
      viewExt: 'hbs',
      production: config.production,
      defaultContext: { issuer: config.issuer },
      options: { partials: viewPartials(VIEWS_DIR) },
    });
    await app.register(formbody, { bodyLimit: 64 * 1024, parser: parseForm });
    installErrorHandler(app);
    // Before the provider is mounted: its request timing must see the provider's requests too.
    await app.register(observabilityPlugin);

    const credentialLimiter = new CredentialLimiter(database.db);
    const provider = createProvider({
      config,
      db: database.db,
      keys,
      accounts,
      log: app.log,
      render: (template, data) => app.view(template, data),
      limiter: credentialLimiter,
    });
    app.decorate('provider', provider);
    app.decorate('clients', new ClientStore(database.db, SCOPES, providerValidation(provider)));
    app.decorate('credentialLimiter', credentialLimiter);
    observeProvider(provider, app.metrics, app.log);
    containProviderErrors(provider);
    const rateWindows = new RateWindows(database.db);
    await mountProvider(app, provider, [
      chunkedBodyLimit,
      ...tokenRateLimitGuards(config.tokenRateLimit, rateWindows, provider, app.metrics, app.log),
    ]);

    await app.register(healthRoutes);
    await app.register(apiRoutes);
    // Fastify's own pages, in a context of their own: cookies, CSRF, the console session and the
    // strict headers of a browser page apply to them (and to unknown addresses), not to the API,
    // health and metrics above, which read no cookie and answer JSON or text.
    await app.register(async (pages) => {
      await pages.register(securityPlugin, { issuer: config.issuer, cookieKeys: keys.cookieKeys });
      await pages.register(fastifyStatic, { root: `${VIEWS_DIR}static`, prefix: '/static/', index: false, maxAge: 3600_000 });
      await pages.register(consolePlugin);
      await pages.register(accountRoutes);
      await pages.register(interactionRoutes);
      await pages.register(connectedAppsRoutes);
      await pages.register(clientRoutes);
      installNotFoundHandler(pages);
    });

    const stopPurge = startPurgeJob(database.db, app.log, PURGE_INTERVAL_MS, (deleted) => app.metrics.purgeRun(deleted));
    app.addHook('onClose', async () => {
      stopPurge();
      if (ownsDatabase) await database.close();
    });
    return app;
  } catch (err) {
    if (ownsDatabase) await database.close().catch(() => {});
    throw err;
  }
}
