type Waiter<V> = { resolve: (value: V) => void; reject: (err: unknown) => void };

/** Largest batch sent at once; more waiting work goes out in further batches. */
export const MAX_BATCH = 200;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH) out.push(items.slice(i, i + MAX_BATCH));
  return out;
}

/**
 * Gathers the lookups that arrive while the event loop is busy (every request whose data came
 * in the same turn) and answers them with one query: one round trip for many requests instead
 * of one each. A lookup joins only a batch that has not been sent yet, so it always sees every
 * write that finished before it was asked.
 */
export class ReadBatcher<K, V> {
  #pending: Map<K, Waiter<V | undefined>[]> | undefined;

  constructor(private readonly load: (keys: K[]) => Promise<Map<K, V>>) {}

  get(key: K): Promise<V | undefined> {
    let pending = this.#pending;
    if (!pending) {
      pending = this.#pending = new Map();
      setImmediate(() => this.#flush());
    }
    const waiters = pending.get(key) ?? [];
    pending.set(key, waiters);
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  }

  #flush(): void {
    const batch = this.#pending!;
    this.#pending = undefined;
    for (const keys of chunks([...batch.keys()])) {
      this.load(keys).then(
        (found) => {
          for (const key of keys) for (const w of batch.get(key)!) w.resolve(found.get(key));
        },
        (err: unknown) => {
          for (const key of keys) for (const w of batch.get(key)!) w.reject(err);
        },
      );
    }
  }
}

/**
 * Gathers the writes that arrive in one turn of the event loop into one statement (one round
 * trip, one commit). Each write's promise settles when its batch is committed, so nothing is
 * acknowledged before it is stored. Items with the same key in one batch keep the last one.
 */
export class WriteBatcher<T> {
  #pending: Map<string, { item: T; waiters: Waiter<void>[] }> | undefined;

  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly save: (items: T[]) => Promise<void>,
  ) {}

  add(item: T): Promise<void> {
    let pending = this.#pending;
    if (!pending) {
      pending = this.#pending = new Map();
      setImmediate(() => this.#flush());
    }
    const key = this.keyOf(item);
    const entry = pending.get(key) ?? { item, waiters: [] };
    entry.item = item;
    pending.set(key, entry);
    return new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  #flush(): void {
    const batch = [...this.#pending!.values()];
    this.#pending = undefined;
    for (const part of chunks(batch)) {
      this.save(part.map((e) => e.item)).then(
        () => part.forEach((e) => e.waiters.forEach((w) => w.resolve())),
        (err: unknown) => part.forEach((e) => e.waiters.forEach((w) => w.reject(err))),
      );
    }
  }
}
