import type { Check, Row } from './report.js';
import { rowKey } from './workloads.js';

const MB = 1024 * 1024;
export const RSS_LIMIT_BYTES = 300 * MB;

function rate(rows: Row[], key: string, phase: Row['phase'] = 'empty'): number | undefined {
  return rows.find((r) => r.key === key && r.phase === phase)?.result?.rate;
}

function ratioCheck(name: string, numerator: number | undefined, denominator: number | undefined, goal: number): Check {
  const value = numerator !== undefined && denominator ? numerator / denominator : undefined;
  return { name, value, goal: `>= ${goal}`, pass: value !== undefined && value >= goal };
}

/** The targets, each from this run's own rows. */
export function checks(rows: Row[], passwordKey: string): Check[] {
  const cc = rowKey('latchkey', 'client_credentials');
  const list = [
    ratioCheck(
      'client_credentials on PostgreSQL / in-memory oidc-provider',
      rate(rows, cc),
      rate(rows, rowKey('oidc-provider', 'client_credentials')),
      0.6,
    ),
  ];
  const grown = rows.find((r) => r.key === cc && r.phase === '1M rows');
  if (grown) {
    // Minutes pass between the two phases on a shared machine: each is taken against the in-memory
    // reference measured alongside it (the raw ratio is in the table too).
    const value = grown.normalizedRatio ?? grown.ratio;
    list.push({
      name: 'client_credentials with 1M rows / empty table (against the reference)',
      value,
      goal: '>= 0.9',
      pass: value !== undefined && value >= 0.9,
    });
  }
  list.push(
    ratioCheck('/api/me / Fastify hello', rate(rows, rowKey('latchkey', '/api/me')), rate(rows, rowKey('fastify', 'hello')), 0.3),
    ratioCheck('password grant / raw password check rate', rate(rows, rowKey('latchkey', 'password')), rate(rows, passwordKey), 0.9),
  );
  const measured = rows.filter((r) => r.result);
  const errors = measured.reduce((sum, r) => sum + r.result!.errors, 0);
  list.push({ name: 'errors in all workloads', value: errors, goal: '= 0', pass: errors === 0 });
  const rss = Math.max(0, ...measured.filter((r) => r.target === 'latchkey').map((r) => r.rssBytes ?? 0));
  list.push({ name: 'largest Latchkey process RSS, MB', value: rss / MB, goal: '< 300', pass: rss > 0 && rss < RSS_LIMIT_BYTES });
  return list;
}
