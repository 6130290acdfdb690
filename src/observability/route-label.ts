import { ROUTES } from '../endpoints.js';

/**
 * The `route` label of a request, from a bounded set: a Fastify route's own pattern
 * (`/interaction/:uid`), or one of the provider's route names mapped back to its path. A raw URL
 * never becomes a label (each distinct label is a new time series in Prometheus).
 */
const PROVIDER_PATHS = new Set<string>([
  ...Object.values(ROUTES),
  `${ROUTES.end_session}/confirm`,
  `${ROUTES.end_session}/success`,
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
]);

/** Provider paths with an id in them: `/oauth/register/<client_id>`, `/oauth/device/<uid>`. */
const PROVIDER_PREFIXES: ReadonlyArray<[string, string]> = [
  [`${ROUTES.registration}/`, `${ROUTES.registration}/:clientId`],
  [`${ROUTES.code_verification}/`, `${ROUTES.code_verification}/:uid`],
];

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export function providerRouteLabel(url: string): string | undefined {
  const path = pathOf(url);
  if (PROVIDER_PATHS.has(path)) return path;
  for (const [prefix, label] of PROVIDER_PREFIXES) if (path.startsWith(prefix)) return label;
  if (path.startsWith('/oauth/')) return '/oauth/*';
  if (path.startsWith('/.well-known/')) return '/.well-known/*';
  return undefined;
}

/** `fastifyRoute` is request.routeOptions.url: undefined when no Fastify route matched. */
export function routeLabel(url: string, fastifyRoute: string | undefined): string {
  return providerRouteLabel(url) ?? fastifyRoute ?? 'unmatched';
}
