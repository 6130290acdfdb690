import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Configuration } from 'openid-client';

/** One section of the playground page: a step of the flow, as the Authlib example's README shows them. */
export interface Step {
  title: string;
  lead?: string;
  /** Labelled values shown verbatim (URLs, JSON). */
  blocks: { label: string; value: string }[];
  checks?: { name: string; ok: boolean }[];
  error?: string;
}

/** The client the playground acts as, connected through discovery. The secret never leaves the server. */
export interface ConnectedClient {
  clientId: string;
  authMethod: AuthMethod;
  scope: string;
  configuration: Configuration;
}

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** What the playground keeps between the authorization request and the callback. */
export interface PendingAuthorization {
  state: string;
  nonce: string;
  codeVerifier: string;
  scope: string;
}

export interface Tokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
}

export interface PlaygroundSession {
  id: string;
  csrfToken: string;
  lastSeen: number;
  client?: ConnectedClient;
  pending?: PendingAuthorization;
  /** The link of step 1, until the callback arrives. */
  authorizationUrl?: string;
  tokens?: Tokens;
  steps: Step[];
  /** A one-line problem with the last form, shown once. */
  notice?: string;
}

const IDLE_MS = 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

/**
 * Playground sessions, in memory and keyed by a random cookie value: every secret (client
 * secret, PKCE verifier, tokens) stays in this process; the browser holds only the key.
 */
export class SessionStore {
  readonly #sessions = new Map<string, PlaygroundSession>();

  constructor(private readonly now: () => number = Date.now) {}

  get(id: string | undefined): PlaygroundSession | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (this.now() - session.lastSeen > IDLE_MS) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.lastSeen = this.now();
    // Most recently used last, so the oldest is first when the map is full.
    this.#sessions.delete(id);
    this.#sessions.set(id, session);
    return session;
  }

  create(): PlaygroundSession {
    while (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    const session: PlaygroundSession = {
      id: randomBytes(32).toString('base64url'),
      csrfToken: randomBytes(32).toString('base64url'),
      lastSeen: this.now(),
      steps: [],
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  get size(): number {
    return this.#sessions.size;
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: PlaygroundSession, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
