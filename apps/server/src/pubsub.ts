/**
 * Pub/sub across instances: the Redis adapter
 * (`pubsub: { redis }` / `--redis URL`) or, in `--workers` processes, the
 * in-host relay run by the primary (a loopback socket whose address the
 * workers get in `WIREHOUSE_RELAY`; every runtime). Both come from
 * @wirehouse/pubsub-redis.
 *
 * The inner adapter runs without `localEcho`; {@link RelayedPubSub} does the
 * local echo itself (synchronously, as the adapter's `localEcho: true` would),
 * so that the app can also publish to the *other* instances only
 * (`publishRemote`): a websocket script's `broadcast(data, except)` is
 * delivered locally by `ws.publish` (every local subscriber but `except`) and
 * remotely by `publishRemote`.
 */
import type { RedisPubSub, SocketPubSub } from "@wirehouse/pubsub-redis";
import type { PubSubAdapter } from "@wirehouse/server";

const encoder = new TextEncoder();

export class RelayedPubSub implements PubSubAdapter {
  private cb: ((topic: string, data: Uint8Array, binary: boolean) => void) | null = null;
  private readonly topics = new Map<string, number>();
  private closed = false;
  /**
   * Per-client mode: the inner adapter is subscribed once per *client* (the app calls
   * {@link clientJoined} / {@link clientLeft}), not once per topic by the server, so its
   * presence counts (Redis) are numbers of clients. The channel traffic is the same: the
   * adapters reference-count.
   */
  readonly perClient: boolean;

  constructor(
    readonly inner: PubSubAdapter,
    /** "redis" or "relay" (the in-host relay of `--workers`), for the banner and the status. */
    readonly kind: "redis" | "relay",
    options: { perClient?: boolean } = {},
  ) {
    this.perClient = options.perClient ?? false;
    inner.onMessage((topic, data, binary) => this.cb?.(topic, data, binary));
  }

  /** The Redis adapter (presence, counters), when that is the inner adapter. */
  get redis(): RedisPubSub | undefined {
    return this.kind === "redis" ? (this.inner as RedisPubSub) : undefined;
  }

  /** The in-host relay's worker side (counters), when that is the inner adapter. */
  get relay(): SocketPubSub | undefined {
    return this.kind === "relay" ? (this.inner as SocketPubSub) : undefined;
  }

  /** A client subscribed to `topic` here (per-client mode). */
  clientJoined(topic: string): void {
    if (this.perClient && !this.closed) this.inner.subscribe(topic);
  }

  /** A client of `topic` here left (per-client mode). */
  clientLeft(topic: string): void {
    if (this.perClient && !this.closed) this.inner.unsubscribe(topic);
  }

  /** Local subscribers (synchronously), then every other instance. */
  publish(topic: string, data: Uint8Array, binary: boolean): void {
    if (this.topics.has(topic)) this.cb?.(topic, data, binary);
    this.inner.publish(topic, data, binary);
  }

  /** Every other instance only (the caller delivers locally). */
  publishRemote(topic: string, data: string | Uint8Array, binary: boolean): void {
    this.inner.publish(topic, typeof data === "string" ? encoder.encode(data) : data, binary);
  }

  onMessage(cb: (topic: string, data: Uint8Array, binary: boolean) => void): void {
    this.cb = cb;
  }

  /** From the server: a topic's first local subscriber. */
  subscribe(topic: string): void {
    this.topics.set(topic, (this.topics.get(topic) ?? 0) + 1);
    if (!this.perClient) this.inner.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    const n = this.topics.get(topic);
    if (n === undefined) return;
    if (n > 1) this.topics.set(topic, n - 1);
    else this.topics.delete(topic);
    if (!this.perClient) this.inner.unsubscribe(topic);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cb = null;
    await this.inner.close();
  }
}

export interface PubSubChoice {
  /** Redis URL (settings `pubsub.redis` or `--redis`). */
  redis?: string | undefined;
  /** The in-host relay's address (`host:port/token`, from `WIREHOUSE_RELAY` in a `--workers` process). */
  relay?: string | undefined;
  log?: (level: "info" | "warn" | "error", message: string) => void;
  /** See {@link RelayedPubSub.perClient}. */
  perClient?: boolean;
}

/** The adapter for `choice`, or undefined (in-process, the server's default). */
export async function createPubSub(choice: PubSubChoice): Promise<RelayedPubSub | undefined> {
  if (choice.redis) {
    const { createRedisPubSub } = await import("@wirehouse/pubsub-redis");
    return new RelayedPubSub(
      createRedisPubSub({ url: choice.redis, ...(choice.log ? { log: choice.log } : {}) }),
      "redis",
      { perClient: choice.perClient ?? false },
    );
  }
  if (choice.relay) {
    const { createSocketPubSub } = await import("@wirehouse/pubsub-redis");
    const inner = createSocketPubSub({ address: choice.relay, ...(choice.log ? { log: choice.log } : {}) });
    // Start serving connected to the relay (the adapter keeps retrying in the background otherwise).
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      inner.ready().catch(() => {}),
      new Promise<void>((done) => {
        timer = setTimeout(done, 5000);
      }),
    ]);
    clearTimeout(timer);
    return new RelayedPubSub(inner, "relay", { perClient: choice.perClient ?? false });
  }
  return undefined;
}

/** The environment variable that hands the primary's relay address to `--workers` processes. */
export const RELAY_ENV = "WIREHOUSE_RELAY";
