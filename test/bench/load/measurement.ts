/** What one workload run yields, whichever load generator drove it. */
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

export interface LoadSettings {
  connections: number;
  duration: number;
  warmup: number;
  /**
   * The server's side: settle() resolves once it has finished what the warm-up left in flight;
   * start() and stop() bracket the measured part (to read its CPU time).
   */
  probe?: { settle(): Promise<void>; start(): void; stop(): void };
}

/** p-th percentile (0..100) of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return 0;
  const sorted = Float64Array.from(samples).sort();
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
