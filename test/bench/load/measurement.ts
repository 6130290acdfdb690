/** What a workload yields over all its measured rounds, whichever load generator drove it. */
export interface Measurement {
  /** Completed operations (requests, or whole flows) per second. */
  rate: number;
  /** Latency of one operation, milliseconds. */
  p50: number;
  p99: number;
  /** Operations that failed: connection errors, timeouts, unexpected statuses or bodies. */
  errors: number;
  operations: number;
  seconds: number;
}

/** One bounded stretch of load. */
export interface Round {
  /** One entry per completed operation, milliseconds. */
  latencies: number[];
  errors: number;
  seconds: number;
}

/** A prepared workload: warmed up once, then measured in one or more rounds. */
export interface Driver {
  warm(seconds: number): Promise<void>;
  /** Whatever the next round needs made first (not measured). */
  ready?(): Promise<void>;
  round(seconds: number): Promise<Round>;
  close(): void;
}

/** p-th percentile (0..100) of unsorted samples. */
export function percentile(samples: Float64Array, p: number): number {
  if (!samples.length) return 0;
  const index = Math.min(samples.length - 1, Math.max(0, Math.ceil((p / 100) * samples.length) - 1));
  return samples[index]!;
}

export function summarize(rounds: Round[]): Measurement {
  const sorted = Float64Array.from(rounds.flatMap((r) => r.latencies)).sort();
  const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
  return {
    rate: seconds > 0 ? sorted.length / seconds : 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    operations: sorted.length,
    seconds,
  };
}
