import { parseArgs } from 'node:util';

export interface BenchOptions {
  duration: number;
  connections: number;
  warmup: number;
  /** Run only these workloads (by name; references they compare with still run). */
  only: string[] | undefined;
  growth: boolean;
  /**
   * WORKERS for the Latchkey server. Default 1: on a 2-core machine that also runs the load
   * generator and PostgreSQL, a second server process only adds contention (measured: /api/me and
   * client_credentials both faster with one).
   */
  workers: string;
}

const USAGE = `npm run bench -- [--duration 10] [--connections 32] [--warmup 3] [--only <workload>]... [--growth] [--workers auto|N]`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '3' },
      only: { type: 'string', multiple: true },
      growth: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (name: string, raw: string, min: number, max: number) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${name} must be a whole number from ${min} to ${max}\n${USAGE}`);
    return value;
  };
  if (!/^(auto|\d+)$/.test(values.workers)) throw new Error(`--workers must be a number or auto\n${USAGE}`);
  return {
    duration: number('duration', values.duration, 1, 300),
    connections: number('connections', values.connections, 1, 1000),
    warmup: number('warmup', values.warmup, 0, 60),
    only: values.only?.length ? values.only : undefined,
    growth: values.growth,
    workers: values.workers,
  };
}
