import type { IdTokenReport } from './id-token.js';
import type { ApiAnswer } from './relying-party.js';
import type { Step } from './sessions.js';

/** The sections of the playground page, one per step of the flow, in the Authlib example's order. */

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function parameters(url: URL): string {
  return [...url.searchParams].map(([name, value]) => `${name} = ${value}`).join('\n');
}

export function registrationStep(metadata: Record<string, unknown>): Step {
  const shown: Record<string, unknown> = { ...metadata };
  for (const secret of ['client_secret', 'registration_access_token']) {
    if (secret in shown) shown[secret] = '(kept by the playground, never sent to your browser)';
  }
  return {
    title: 'Client registration (RFC 7591)',
    lead: 'POST /oauth/register with the initial access token as a Bearer token. Latchkey answered:',
    blocks: [{ label: 'Registration response', value: pretty(shown) }],
  };
}

export function authorizationStep(url: URL): Step {
  return {
    title: '1. Authorization request',
    lead:
      'Your browser goes to the authorization endpoint with these parameters. ' +
      'The PKCE code_verifier stays in the playground; only its S256 code_challenge is sent.',
    blocks: [
      { label: 'Authorization URL', value: url.href },
      { label: 'Parameters', value: parameters(url) },
    ],
  };
}

export function callbackStep(callbackUrl: URL, stateMatches: boolean, error?: string): Step {
  const checks = [{ name: 'state is the one this playground sent', ok: stateMatches }];
  return {
    title: '2. Callback',
    lead: error
      ? 'Latchkey sent your browser back without a code.'
      : 'Latchkey sent your browser back to the redirect URI with a one-time code.',
    blocks: [
      { label: 'Callback URL', value: callbackUrl.href },
      { label: 'Parameters', value: parameters(callbackUrl) },
    ],
    checks,
    ...(error ? { error } : {}),
  };
}

export function tokenStep(title: string, lead: string, response: unknown, error?: string): Step {
  return {
    title,
    lead,
    blocks: response === undefined ? [] : [{ label: 'Token response', value: pretty(response) }],
    ...(error ? { error } : {}),
  };
}

export function idTokenStep(title: string, report: IdTokenReport): Step {
  const allOk = report.checks.every((check) => check.ok);
  return {
    title,
    lead: allOk ? 'The id_token is valid: every check passed.' : 'The id_token failed a check (marked below).',
    blocks: [
      { label: 'Header', value: pretty(report.header) },
      { label: 'Payload (claims)', value: pretty(report.payload) },
    ],
    checks: report.checks,
  };
}

export function apiStep(title: string, answer: ApiAnswer): Step {
  let body = answer.body;
  try {
    body = pretty(JSON.parse(answer.body));
  } catch {
    // not JSON: show it as it came
  }
  const blocks = [{ label: 'Status', value: String(answer.status) }];
  if (answer.wwwAuthenticate) blocks.push({ label: 'WWW-Authenticate', value: answer.wwwAuthenticate });
  if (body) blocks.push({ label: 'Body', value: body });
  return {
    title,
    lead: 'GET /api/me with "Authorization: Bearer <access_token>" — the protected resource.',
    blocks,
  };
}

export function revocationStep(revoked: string[], error?: string): Step {
  return {
    title: 'Revocation (RFC 7009)',
    lead: error
      ? 'The revocation request failed.'
      : `POST /oauth/revoke with the ${revoked.join(' and the ')}. Latchkey revokes the whole grant: ` +
        'every token of this authorization stops working.',
    blocks: [],
    ...(error ? { error } : {}),
  };
}

export function failureStep(title: string, error: string): Step {
  return { title, blocks: [], error };
}
