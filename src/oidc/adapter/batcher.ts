type Waiter<V> = { resolve: (value: V) => void; reject: (err: unknown) => void };

/** Largest batch sent at once; more waiting work goes out in further batches. */
export const MAX_BATCH = 200;

/** Calls `work`, turning a synchronous throw into a rejection, so its callers always settle. */
function attempt<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (err) {
    return Promise.reject(err);
  }
}

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH) out.push(items.slice(i, i + MAX_BATCH));
  return out;
}

/**
 * When gathered work goes out: on the next turn of the event loop, unless `limit` batches are
 * already in flight, and then as soon as one of them is done. With nothing in flight a batch
 * leaves at once (no added latency); under load, work piles up behind the batches in flight
 * and leaves together: fewer, larger statements, so fewer round trips, commits and system calls
 * (each one a write to the database's socket) for the same requests.
 */
class Dispatch {
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly limit: number,
    /** Sends what is pending (resolving when it is done), or returns undefined when nothing is. */
    private readonly send: () => Promise<unknown> | undefined,
  ) {}

  /** Something is pending: make sure it goes out. */
  request(): void {
    if (this.#scheduled || this.#inFlight >= this.limit) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#inFlight >= this.limit) return;
      const sent = this.send();
      if (!sent) return;
      this.#inFlight++;
      void sent.finally(() => {
        this.#inFlight--;
        this.request();
      });
    });
  }
}

/**
 * Gathers the lookups that arrive while the event loop is busy, or while earlier lookups are
 * in flight, and answers them with one query: one round trip for many requests instead of one
 * each. A lookup joins only a batch that has not been sent yet, so it always sees every write
 * that finished before it was asked.
 */
export class ReadBatcher<K, V> {
  #pending: Map<K, Waiter<V | undefined>[]> | undefined;
  readonly #dispatch: Dispatch;

  constructor(
    private readonly load: (keys: K[]) => Promise<Map<K, V>>,
    /** Batches in flight at once; a batch of more than MAX_BATCH keys runs as several queries. */
    inFlight = 2,
  ) {
    this.#dispatch = new Dispatch(inFlight, () => this.#flush());
  }

  get(key: K): Promise<V | undefined> {
    const pending = (this.#pending ??= new Map());
    let waiters = pending.get(key);
    if (!waiters) pending.set(key, (waiters = []));
    const answer = new Promise<V | undefined>((resolve, reject) => waiters.push({ resolve, reject }));
    this.#dispatch.request();
    return answer;
  }

  #flush(): Promise<unknown> | undefined {
    const batch = this.#pending;
    if (!batch) return undefined;
    this.#pending = undefined;
    return Promise.all(
      chunks([...batch.keys()]).map((keys) =>
        attempt(() => this.load(keys)).then(
          (found) => {
            for (const key of keys) for (const w of batch.get(key)!) w.resolve(found.get(key));
          },
          (err: unknown) => {
            for (const key of keys) for (const w of batch.get(key)!) w.reject(err);
          },
        ),
      ),
    );
  }
}

/**
 * Gathers the writes that arrive in one turn of the event loop, or while earlier batches are
 * being committed, into one statement (one round trip, one commit). Each write's promise
 * settles when its batch is committed, so nothing is acknowledged before it is stored. Items
 * with the same key in one batch keep the last one.
 */
export class WriteBatcher<T> {
  #pending: Map<string, { item: T; waiters: Waiter<void>[] }> | undefined;
  readonly #dispatch: Dispatch;

  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly save: (items: T[]) => Promise<void>,
    /** Batches in flight at once: several, as a commit mostly waits for the disk (a batch of more than MAX_BATCH items is several statements). */
    inFlight = 4,
  ) {
    this.#dispatch = new Dispatch(inFlight, () => this.#flush());
  }

  add(item: T): Promise<void> {
    const pending = (this.#pending ??= new Map());
    const key = this.keyOf(item);
    const entry = pending.get(key) ?? { item, waiters: [] };
    entry.item = item;
    pending.set(key, entry);
    const stored = new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }));
    this.#dispatch.request();
    return stored;
  }

  #flush(): Promise<unknown> | undefined {
    const pending = this.#pending;
    if (!pending) return undefined;
    this.#pending = undefined;
    return Promise.all(
      chunks([...pending.values()]).map((part) =>
        attempt(() => this.save(part.map((e) => e.item))).then(
          () => part.forEach((e) => e.waiters.forEach((w) => w.resolve())),
          (err: unknown) => part.forEach((e) => e.waiters.forEach((w) => w.reject(err))),
        ),
      ),
    );
  }
}
