/**
 * How often this process may fetch from other hosts on a client's behalf (metadata documents):
 * token buckets, one per target host and one for all of them, so the server cannot be used to
 * flood a host, nor to flood many. In memory: a fetch happens only when the provider's cache
 * misses, and each process's budget is small enough that a handful of processes stay polite.
 */
export interface FetchBudgetOptions {
  /** Fetches a host may receive in a burst, refilled over a minute. */
  perHostPerMinute: number;
  /** Fetches in a burst across all hosts, refilled over a minute. */
  totalPerMinute: number;
  /** Hosts remembered at most; past it, the buckets that are full again (or else the oldest) are dropped. */
  maxHosts: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class FetchBudget {
  private readonly hosts = new Map<string, Bucket>();
  private readonly total: Bucket;
  private readonly now: () => number;

  constructor(private readonly options: FetchBudgetOptions) {
    this.now = options.now ?? Date.now;
    this.total = { tokens: options.totalPerMinute, at: this.now() };
  }

  private refill(bucket: Bucket, capacity: number, now: number): void {
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * capacity) / 60_000);
    bucket.at = now;
  }

  /** Hosts remembered now (at most maxHosts). */
  get hostCount(): number {
    return this.hosts.size;
  }

  /** Takes one fetch to this host from both buckets; false (and nothing taken) when either is empty. */
  take(host: string): boolean {
    const now = this.now();
    const { perHostPerMinute, totalPerMinute } = this.options;
    let bucket = this.hosts.get(host);
    if (!bucket) {
      this.makeRoom(now);
      bucket = { tokens: perHostPerMinute, at: now };
      this.hosts.set(host, bucket);
    }
    this.refill(bucket, perHostPerMinute, now);
    this.refill(this.total, totalPerMinute, now);
    if (bucket.tokens < 1 || this.total.tokens < 1) return false;
    bucket.tokens -= 1;
    this.total.tokens -= 1;
    return true;
  }

  private makeRoom(now: number): void {
    if (this.hosts.size < this.options.maxHosts) return;
    for (const [host, bucket] of this.hosts) {
      this.refill(bucket, this.options.perHostPerMinute, now);
      if (bucket.tokens >= this.options.perHostPerMinute) this.hosts.delete(host);
    }
    // All still draining: dropping the oldest gives it a full bucket early, bounded by the total.
    if (this.hosts.size >= this.options.maxHosts) this.hosts.delete(this.hosts.keys().next().value!);
  }
}
