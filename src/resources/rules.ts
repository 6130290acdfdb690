import { API_PATH, API_SCOPES, SCOPES } from '../endpoints.js';

/** A protected resource: the indicator a client sends as `resource` (RFC 8707), its name, its scopes. */
export interface Resource {
  readonly uri: string;
  readonly name: string;
  readonly scopes: readonly string[];
}

export interface ResourceInput {
  uri: string;
  name: string;
  /** One space-separated value. */
  scope: string;
}

/** Why a resource cannot be registered, in one sentence. */
export class ResourceValidationError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const CONTROL = /\p{Cc}/u;

/** Latchkey's own API, a resource that is always there and never in the table. */
export function apiResource(issuer: string): Resource {
  return { uri: `${issuer}${API_PATH}`, name: 'Latchkey API', scopes: [...API_SCOPES] };
}

function uriProblem(uri: string, issuer: string): string | undefined {
  const url = URL.parse(uri);
  if (!url) return `resource URI "${uri}" is not an absolute URI`;
  // RFC 8707 §2: an absolute URI without a fragment; the token's audience is this very string.
  if (uri.includes('#')) return `resource URI "${uri}" must not contain a fragment (#)`;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    return `resource URI "${uri}" must use https (http only on 127.0.0.1, localhost or [::1])`;
  }
  if (url.username || url.password) return `resource URI "${uri}" must not contain a user name or password`;
  if (uri.length > 2000) return 'resource URI must be at most 2000 characters';
  if (uri === apiResource(issuer).uri) return `"${uri}" is Latchkey's own API, which is always a resource`;
  return undefined;
}

function scopeProblem(scope: string): string | undefined {
  if (!SCOPE_TOKEN.test(scope)) return `scope "${scope}" is not a valid scope token (printable ASCII, no space, " or \\)`;
  if (scope.length > 200) return 'a scope must be at most 200 characters';
  if ((SCOPES as readonly string[]).includes(scope)) return `scope "${scope}" is one of the server's own OpenID Connect scopes`;
  return undefined;
}

/** The resource as it is stored (trimmed, scopes without duplicates); throws ResourceValidationError. */
export function validateResource(input: ResourceInput, issuer: string): Resource {
  const uri = input.uri.trim();
  const name = input.name.trim();
  const problem = uriProblem(uri, issuer);
  if (problem) throw new ResourceValidationError(problem);
  if (!name) throw new ResourceValidationError('a resource needs a name');
  if (name.length > 200 || CONTROL.test(name)) throw new ResourceValidationError('a resource name is one line of at most 200 characters');
  const scopes = [...new Set(input.scope.split(/[ \t]+/).filter(Boolean))];
  if (!scopes.length) throw new ResourceValidationError('a resource needs at least one scope (--scope "S1 S2")');
  for (const scope of scopes) {
    const why = scopeProblem(scope);
    if (why) throw new ResourceValidationError(why);
  }
  return { uri, name, scopes };
}
