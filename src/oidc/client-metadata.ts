export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = [
  'authorization_code',
  'implicit',
  'password',
  'client_credentials',
  'refresh_token',
  DEVICE_CODE_GRANT,
] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export const RESPONSE_TYPES = ['code', 'token', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token', 'none'];

/** Client metadata in the order the Authlib example showed it; other fields follow. */
export const METADATA_ORDER: readonly string[] = [
  'client_name',
  'client_uri',
  'grant_types',
  'redirect_uris',
  'post_logout_redirect_uris',
  'response_types',
  'scope',
  'token_endpoint_auth_method',
];

export interface ClientInput {
  client_name: string;
  client_uri?: string | undefined;
  redirect_uris: string[];
  /** Where RP-initiated logout may send the browser back (same rules as redirect URIs). */
  post_logout_redirect_uris?: string[] | undefined;
  grant_types: string[];
  response_types: string[];
  scope: string;
  token_endpoint_auth_method: string;
}

/** The problems of a client form, each a sentence fit to show beside the form. */
export class ClientValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join(' '));
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Metadata no client may register, whatever the path: the provider would fetch it from the
 * address given, at registration and on every later lookup (a request to any host on behalf of
 * whoever holds an initial or registration access token). Pairwise subjects are off, so a
 * sector identifier has nothing to do here anyway.
 */
export const REFUSED_METADATA: Readonly<Record<string, string>> = {
  sector_identifier_uri:
    'sector_identifier_uri is not accepted: pairwise subject identifiers are off, and the server fetches no URL at registration.',
};

const IMPLICIT_HTTPS = 'the implicit grant sends tokens only to https redirect URIs';

/**
 * The problem an implicit client's redirect URI has, if any: its tokens travel in the URL, so
 * https only, whatever the application type (oidc-provider allows http loopback for native ones).
 * Worded as the form shows the provider's own refusals: this rule now answers before the provider.
 */
function implicitRedirectProblem(uri: string): string | undefined {
  if (URL.parse(uri)?.protocol === 'https:') return undefined;
  return `This client cannot be registered: ${IMPLICIT_HTTPS}, and "${uri}" is not one (whatever the application type).`;
}

/** Whether a problem is about a redirect URI (RFC 7591 answers those with invalid_redirect_uri). */
export function isRedirectProblem(problem: string): boolean {
  return problem.startsWith('Redirect URI') || problem.includes(IMPLICIT_HTTPS);
}

function redirectProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `Redirect URI "${raw}" is not an absolute URL.`;
  }
  if (raw.includes('#')) return `Redirect URI "${raw}" must not contain a fragment (#).`;
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    return `Redirect URI "${raw}" uses http: only loopback hosts (127.0.0.1, localhost, [::1]) may; use https.`;
  }
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol)) return `Redirect URI "${raw}" uses a forbidden scheme.`;
  return undefined;
}

const sortedTypes = (rt: string) => rt.trim().split(/\s+/).sort().join(' ');

/** Normalizes a client registration and checks it is consistent; throws ClientValidationError. */
export function validateClientInput(input: ClientInput, allowedScopes: readonly string[]): ClientInput {
  const problems: string[] = [];
  const client_name = input.client_name.trim();
  if (!client_name) problems.push('Client name is required.');
  if (client_name.length > 200) problems.push('Client name must be at most 200 characters.');

  const client_uri = input.client_uri?.trim() || undefined;
  if (client_uri) {
    try {
      if (!/^https?:$/.test(new URL(client_uri).protocol)) problems.push('Client URI must be an http(s) URL.');
    } catch {
      problems.push('Client URI must be an absolute URL.');
    }
  }

  const redirect_uris = [...new Set(input.redirect_uris.map((u) => u.trim()).filter(Boolean))];
  for (const uri of redirect_uris) {
    const problem = redirectProblem(uri);
    if (problem) problems.push(problem);
  }

  const post_logout_redirect_uris = [...new Set((input.post_logout_redirect_uris ?? []).map((u) => u.trim()).filter(Boolean))];
  for (const uri of post_logout_redirect_uris) {
    const problem = redirectProblem(uri);
    if (problem) problems.push(problem.replace(/^Redirect URI/, 'Post-logout redirect URI'));
  }

  const grant_types = [...new Set(input.grant_types.map((g) => g.trim()).filter(Boolean))];
  for (const g of grant_types) if (!(GRANT_TYPES as readonly string[]).includes(g)) problems.push(`Unknown grant type "${g}".`);
  if (!grant_types.length) problems.push('Choose at least one grant type.');

  const response_types = [...new Set(input.response_types.map(sortedTypes).filter(Boolean))];
  for (const rt of response_types) if (!RESPONSE_TYPES.map(sortedTypes).includes(rt)) problems.push(`Unknown response type "${rt}".`);
  const words = new Set(response_types.flatMap((rt) => rt.split(' ')));
  const hasCode = grant_types.includes('authorization_code');
  const hasImplicit = grant_types.includes('implicit');
  if (hasCode !== words.has('code')) {
    problems.push('The authorization_code grant and the "code" response type go together: choose both or neither.');
  }
  if (hasImplicit !== (words.has('token') || words.has('id_token'))) {
    problems.push('The implicit grant and a "token" (or "id_token") response type go together: choose both or neither.');
  }
  if (hasImplicit || words.has('token') || words.has('id_token')) {
    for (const uri of redirect_uris) {
      const problem = redirectProblem(uri) ? undefined : implicitRedirectProblem(uri);
      if (problem) problems.push(problem);
    }
  }
  if ((hasCode || hasImplicit) && !redirect_uris.length)
    problems.push('At least one redirect URI is needed for the authorization_code and implicit grants.');

  const token_endpoint_auth_method = input.token_endpoint_auth_method.trim();
  if (!(AUTH_METHODS as readonly string[]).includes(token_endpoint_auth_method)) {
    problems.push(`Token endpoint auth method must be one of ${AUTH_METHODS.join(', ')}.`);
  }
  const isPublic = token_endpoint_auth_method === 'none';
  if (hasImplicit && !isPublic) problems.push('The implicit grant is for public clients: choose token endpoint auth method "none".');
  if (isPublic && grant_types.includes('client_credentials'))
    problems.push('A public client (auth method "none") cannot use client_credentials.');
  if (isPublic && grant_types.includes('password')) problems.push('A public client (auth method "none") cannot use the password grant.');

  const scopes = [...new Set(input.scope.trim().split(/\s+/).filter(Boolean))];
  for (const s of scopes) if (!allowedScopes.includes(s)) problems.push(`Unknown scope "${s}" (known: ${allowedScopes.join(' ')}).`);
  if (!scopes.length) problems.push(`Scope is required: one or more of ${allowedScopes.join(' ')}, separated by spaces.`);

  if (problems.length) throw new ClientValidationError(problems);
  return {
    client_name,
    client_uri,
    redirect_uris,
    ...(post_logout_redirect_uris.length ? { post_logout_redirect_uris } : {}),
    grant_types,
    response_types,
    scope: scopes.join(' '),
    token_endpoint_auth_method,
  };
}

/**
 * What a Client ID Metadata Document may describe (beyond the provider's own checks): a public
 * client (auth method "none", hence PKCE) of the code flow, redirect URIs under the form's rules,
 * a web application (a native one would have its loopback redirect URIs matched on any port).
 * Returns the first problem, worded for an error page, or undefined.
 */
export function metadataDocumentProblem(metadata: {
  token_endpoint_auth_method?: unknown;
  grant_types?: unknown;
  response_types?: unknown;
  redirect_uris?: unknown;
  application_type?: unknown;
}): string | undefined {
  const strings = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  if (metadata.token_endpoint_auth_method !== 'none') return 'token_endpoint_auth_method must be "none" (a public client, with PKCE)';
  const grants = strings(metadata.grant_types);
  if (!grants.includes('authorization_code') || grants.some((g) => g !== 'authorization_code' && g !== 'refresh_token')) {
    return 'grant_types may only be authorization_code (and refresh_token)';
  }
  if (strings(metadata.response_types).some((rt) => rt !== 'code')) return 'response_types may only be "code"';
  if (metadata.application_type !== undefined && metadata.application_type !== 'web') return 'application_type must be "web"';
  const redirects = strings(metadata.redirect_uris);
  if (!redirects.length) return 'redirect_uris are required';
  for (const uri of redirects) {
    const problem = redirectProblem(uri);
    if (problem) return problem;
  }
  return undefined;
}
