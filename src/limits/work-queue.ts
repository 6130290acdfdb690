/** Refused at once: the queue is full. Answered 503 temporarily_unavailable with Retry-After. */
export class QueueFull extends Error {
  readonly statusCode = 503;
  readonly status = 503;
  // oidc-provider shows exposed errors as they are.
  readonly expose = true;
  readonly error = 'temporarily_unavailable';
  readonly error_description = 'too many sign-ins at once; try again shortly';
  readonly retryAfter = 2;

  constructor() {
    super('too many sign-ins at once; try again shortly');
    this.name = 'QueueFull';
  }
}

/**
 * Bounds expensive work (password hashing): at most `concurrency` jobs run at once, at most
 * `maxWaiting` wait for their turn, and anything beyond that is refused at once (QueueFull)
 * rather than waiting behind everyone, so a burst cannot stall every sign-in for seconds.
 */
export class WorkQueue {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      if (this.#waiting.length >= this.maxWaiting) throw new QueueFull();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
