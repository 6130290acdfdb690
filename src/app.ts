import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import handlebars from 'handlebars';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/connect.js';
import { assembleServices, prepareDatabase } from './assembly.js';
import { startPurgeJob } from './db/purge.js';
import { installErrorHandler, installNotFoundHandler } from './http/error-handler.js';
import { healthRoutes } from './http/health.js';
import { apiRoutes } from './api/routes.js';
import { loggerOptions, requestIdOptions } from './observability/logging.js';
import { childLoggerFactory } from './observability/request-logger.js';
import { securityPlugin } from './http/security-headers.js';
import { viewPartials } from './http/view-partials.js';
import { consolePlugin } from './accounts/console.js';
import { accountRoutes } from './accounts/routes.js';
import { interactionRoutes } from './interactions/routes.js';
import { connectedAppsRoutes } from './interactions/connected-apps.js';
import { accountPageRoutes } from './account-page/routes.js';
import { clientRoutes } from './clients/routes.js';
import { parseForm } from './http/form-parser.js';
import { observabilityPlugin } from './observability/plugin.js';
import { mountProvider } from './oidc/pipeline.js';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { consoleViewOf, endConsoleSessionOnLogout, type ConsoleView } from './accounts/console-session.js';
import { TokenRateLimit } from './limits/token-rate-limit.js';
import { HourlyLimit } from './limits/hourly-limit.js';
import { observeProvider } from './observability/provider-events.js';

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
    await prepareDatabase(database.db);

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
    app.decorate('config', config);
    app.decorate('database', database);
    app.decorate('db', database.db);

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

    // The provider's own pages show the signed-in person as every page does (known once the stores exist).
    const consoleView: { of?: (ctx: KoaContextWithOIDC) => Promise<ConsoleView> } = {};
    const { keys, accounts, credentialLimiter, provider, clients, consoleSessions, resources, twoFactor } = await assembleServices(
      config,
      database,
      {
        log: app.log,
        render: async (template, data, ctx) => app.view(template, { ...data, ...(ctx && consoleView.of ? await consoleView.of(ctx) : {}) }),
      },
    );
    consoleView.of = consoleViewOf(consoleSessions, accounts, keys.cookieKeys, config.issuer);
    app.decorate('accounts', accounts);
    app.decorate('provider', provider);
    app.decorate('clients', clients);
    app.decorate('credentialLimiter', credentialLimiter);
    app.decorate('consoleSessions', consoleSessions);
    app.decorate('resources', resources);
    app.decorate('twoFactor', twoFactor);
    observeProvider(provider, app.metrics, app.log);
    const tokenRateLimit =
      config.tokenRateLimit > 0 ? new TokenRateLimit(database.db, config.tokenRateLimit, app.metrics, app.log) : undefined;
    await mountProvider(app, {
      provider,
      tokenRateLimit,
      endConsoleSession: endConsoleSessionOnLogout(provider, consoleSessions, keys.cookieKeys, config.issuer),
      issuer: config.issuer,
      trustProxy: config.trustProxy,
      resources,
      registration: config.registration,
      registrationLimit:
        config.registrationRateLimit > 0
          ? new HourlyLimit(database.db, { name: 'registration', perIp: config.registrationRateLimit, countRefused: true })
          : undefined,
    });

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
      await pages.register(accountPageRoutes);
      await pages.register(clientRoutes);
      installNotFoundHandler(pages);
    });

    const stopPurge = startPurgeJob(database.db, app.log, PURGE_INTERVAL_MS, (deleted) => app.metrics.purgeRun(deleted), [
      () => consoleSessions.purge(),
      () => twoFactor.purge(),
    ]);
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
