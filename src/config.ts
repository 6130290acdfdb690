import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

/** The one place that reads process.env. Everything else receives a Config. */
export interface Config {
  port: number;
  host: string;
  issuer: string;
  databaseUrl: string | undefined;
  dataDir: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  /** Seconds a JWT access token issued for a protected resource (resource=URI) lives. */
  resourceTokenTtl: number;
  trustProxy: boolean;
  logLevel: string;
  tokenRateLimit: number;
  /** Sign-ups per hour per IP (the whole server takes ten times as many); 0 turns the limit off. */
  signupRateLimit: number;
  /**
   * POST /oauth/register: `token` needs an initial access token; `open` takes anonymous
   * registrations of code-flow clients (as MCP clients register); `off` refuses every one.
   */
  registration: RegistrationMode;
  /** Anonymous registrations per hour per IP under REGISTRATION=open (the whole server: ten times that); 0: no limit. */
  registrationRateLimit: number;
  /** Password hashes run at once per process: libuv's thread pool, which runs them. */
  hashThreads: number;
  workers: number;
  implicitGrant: boolean;
  /** An https URL as client_id is fetched as its Client ID Metadata Document. */
  clientIdMetadataDocuments: boolean;
  /** How metadata documents are fetched (the guarded fetcher). */
  metadataFetch: MetadataFetchConfig;
  production: boolean;
}

export interface MetadataFetchConfig {
  /** `host[:port]` (URL.host form) that may be fetched although loopback or private. */
  allowHosts: string[];
  /** Milliseconds for one whole fetch. Not an environment setting: tests shorten it. */
  timeoutMs: number;
  /** Extra certificate authorities (PEM) to trust. Not an environment setting: tests only. */
  ca?: string | undefined;
}

export const REGISTRATION_MODES = ['token', 'open', 'off'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function issuerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`ISSUER must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`ISSUER must use http or https, got "${raw}"`);
  }
  if (url.search || url.hash) throw new ConfigError(`ISSUER must not have a query or fragment, got "${raw}"`);
  if (url.pathname !== '/') throw new ConfigError(`ISSUER must be the server's root (no path), got "${raw}"`);
  return url.origin;
}

function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL (it could not be parsed)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://, got "${url.protocol}//"`);
  }
  if (!url.hostname && !url.searchParams.get('host')) throw new ConfigError('DATABASE_URL has no host');
  return raw;
}

/** CLIENT_METADATA_ALLOW_HOSTS: comma-separated host[:port], kept as URL.host writes them. */
export function allowHosts(raw: string | undefined): string[] {
  const hosts: string[] = [];
  for (const entry of (raw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const url = URL.parse(`https://${entry}`);
    if (!url || url.host.toLowerCase() !== entry.toLowerCase().replace(/:443$/, '') || url.pathname !== '/') {
      throw new ConfigError(`CLIENT_METADATA_ALLOW_HOSTS must be host or host:port entries separated by commas, got "${entry}"`);
    }
    hosts.push(url.host);
  }
  return hosts;
}

function registrationMode(env: Env): RegistrationMode {
  const raw = env.REGISTRATION?.trim().toLowerCase() || 'token';
  const mode = REGISTRATION_MODES.find((m) => m === raw);
  if (!mode) throw new ConfigError(`REGISTRATION must be one of ${REGISTRATION_MODES.join(', ')}, got "${env.REGISTRATION}"`);
  return mode;
}

function workers(env: Env): number {
  const raw = env.WORKERS?.trim();
  if (raw === 'auto') return availableParallelism();
  return integer(env, 'WORKERS', 1, 1, 256);
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 5000, 0, 65535);
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  return {
    port,
    host: env.HOST?.trim() || '127.0.0.1',
    issuer: issuerUrl(env.ISSUER?.trim() || `http://127.0.0.1:${port}`),
    databaseUrl: databaseUrl(env.DATABASE_URL),
    dataDir: resolve(env.DATA_DIR?.trim() || './data'),
    accessTokenTtl: integer(env, 'ACCESS_TOKEN_TTL', 3600, 60, 31_536_000),
    refreshTokenTtl: integer(env, 'REFRESH_TOKEN_TTL', 1_209_600, 60, 31_536_000),
    resourceTokenTtl: integer(env, 'RESOURCE_TOKEN_TTL', 300, 10, 86_400),
    trustProxy: boolean(env, 'TRUST_PROXY', false),
    logLevel,
    tokenRateLimit: integer(env, 'TOKEN_RATE_LIMIT', 0, 0, 1_000_000),
    signupRateLimit: integer(env, 'SIGNUP_RATE_LIMIT', 20, 0, 1_000_000),
    registration: registrationMode(env),
    registrationRateLimit: integer(env, 'REGISTRATION_RATE_LIMIT', 20, 0, 1_000_000),
    hashThreads: integer(env, 'UV_THREADPOOL_SIZE', 4, 1, 1024),
    workers: workers(env),
    implicitGrant: boolean(env, 'IMPLICIT_GRANT', true),
    clientIdMetadataDocuments: boolean(env, 'CLIENT_ID_METADATA_DOCUMENTS', true),
    metadataFetch: { allowHosts: allowHosts(env.CLIENT_METADATA_ALLOW_HOSTS), timeoutMs: 5000 },
    production: env.NODE_ENV === 'production',
  };
}
