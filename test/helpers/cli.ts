import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_TIMEOUT_MS = 60_000;

/** oidc-provider 9 prints this once per process on Node < 22 (README: "22 LTS recommended"). */
const UNSUPPORTED_RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';
const warnsOnThisRuntime = Number(process.versions.node.split('.')[0]) < 22;

export interface CliTarget {
  databaseUrl: string | undefined;
  dataDir: string;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr's lines, without the runtime warning this Node version gets from oidc-provider and without audit lines. */
  errorLines: string[];
  /** The audit lines the command wrote to stderr (JSON, audit: true). */
  auditLines: Array<Record<string, unknown>>;
}

export interface CliOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  env?: Record<string, string>;
}

function auditLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return value.audit === true ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `latchkey ARGS` from the sources (node --import tsx src/cli.ts) against one database. */
export function runCli(target: CliTarget, args: string[], options: CliOptions = {}): Promise<CliResult> {
  const { DATABASE_URL: _suiteServer, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    DATA_DIR: target.dataDir,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: REPO_ROOT, env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stderr.split('\n').filter((line) => line && !(warnsOnThisRuntime && line === UNSUPPORTED_RUNTIME_WARNING));
      const auditLines = lines.map(auditLine).filter((line): line is Record<string, unknown> => line !== undefined);
      const errorLines = lines.filter((line) => auditLine(line) === undefined);
      resolve({ code, stdout, stderr, errorLines, auditLines });
    });
    child.stdin.on('error', () => {}); // a command that never reads stdin may exit before we finish writing
    child.stdin.end(options.input ?? '');
  });
}

/** The one JSON object a --json command prints: stdout must be exactly that, on one line. */
export function parseJsonOutput(result: CliResult): Record<string, unknown> {
  const lines = result.stdout.split('\n');
  if (lines.length !== 2 || lines[1] !== '') throw new Error(`expected one line of JSON on stdout, got: ${JSON.stringify(result.stdout)}`);
  const value: unknown = JSON.parse(lines[0]!);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`expected a JSON object, got: ${lines[0]}`);
  return value as Record<string, unknown>;
}

export function succeeded(t: Test, result: CliResult, what: string): void {
  t.equal(result.code, 0, `${what}: exit status 0`);
  t.same(result.errorLines, [], `${what}: nothing on stderr`);
}

/** A refused command: the given exit status, nothing on stdout, one line on stderr (returned). */
export function refused(t: Test, result: CliResult, status: number, what: string): string {
  t.equal(result.code, status, `${what}: exit status ${status}`);
  t.equal(result.stdout, '', `${what}: nothing on stdout`);
  t.equal(result.errorLines.length, 1, `${what}: one line on stderr`);
  const line = result.errorLines[0] ?? '';
  t.match(line, /^latchkey: \S/, `${what}: says latchkey: and why`);
  t.notMatch(result.stderr, /\n\s+at /, `${what}: no stack trace`);
  return line;
}
