import pg from 'pg';

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
/** A connection that stops answering (no FIN: a network cut, a hung server) counts as lost after this. */
const HEARTBEAT_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 2_000;

export interface FeedHandlers {
  onNotification(payload: string): void;
  /** Listening: every later change will be heard. */
  onUp(): void;
  /** Not listening (connection lost, or closed): changes may go unheard. */
  onDown(): void;
}

/**
 * A dedicated PostgreSQL connection that LISTENs on one channel, and comes back by itself
 * (with backoff) when the connection is lost. Started on first use; close() ends it.
 */
export class ChangeFeed {
  #client: pg.Client | undefined;
  #started = false;
  #closed = false;
  #retryMs = RETRY_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #stopHeartbeat: () => void = () => {};

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly handlers: FeedHandlers,
  ) {}

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connect();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: 3000,
      query_timeout: HEARTBEAT_TIMEOUT_MS,
      keepAlive: true,
    });
    this.#client = client;
    let lost = false;
    let heartbeat: NodeJS.Timeout | undefined;
    const onLost = () => {
      if (lost) return;
      lost = true;
      clearInterval(heartbeat);
      this.handlers.onDown();
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.#client === client) this.#client = undefined;
      this.#retry();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.handlers.onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${pg.escapeIdentifier(this.channel)}`);
      if (this.#closed || lost) return void client.end().catch(() => {});
      this.#retryMs = RETRY_MIN_MS;
      this.handlers.onUp();
      heartbeat = setInterval(() => void client.query('select 1').catch(onLost), HEARTBEAT_MS);
      heartbeat.unref();
      this.#stopHeartbeat = () => clearInterval(heartbeat);
    } catch {
      onLost();
    }
  }

  #retry(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#connect(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#stopHeartbeat();
    const client = this.#client;
    this.#client = undefined;
    this.handlers.onDown();
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}
