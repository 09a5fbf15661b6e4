/**
 * Pub/sub across instances: the Redis adapter
 * (`pubsub: { redis }` / `--redis URL`) or, in `--workers` processes, the
 * in-host relay run by the primary (a loopback socket whose address the
 * workers get in `WIREHOUSE_RELAY`; every runtime). Both come from
 * @wirehouse/pubsub-redis.
 *
 * The server delivers every publish to its own subscribers and hands it to
 * this adapter for the other instances (the inner adapter runs without
 * `localEcho`). A websocket script's `broadcast(data, except)` is `ws.publish`
 * from `except` (every subscriber but `except`, here and elsewhere), and
 * without `except` a `server.publish`.
 */
import type { RedisPubSub, SocketPubSub } from "@wirehouse/pubsub-redis";
import type { PubSubAdapter } from "@wirehouse/server";

export class RelayedPubSub implements PubSubAdapter {
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

  /** From the server: a publish made here, for the other instances (the server delivered it here). */
  publish(topic: string, data: Uint8Array, binary: boolean, compress?: boolean): void {
    this.inner.publish(topic, data, binary, compress);
  }

  onMessage(cb: (topic: string, data: Uint8Array, binary: boolean, compress?: boolean) => void): void {
    this.inner.onMessage(cb);
  }

  /** From the server: a topic's first local subscriber. */
  subscribe(topic: string): void {
    if (!this.perClient) this.inner.subscribe(topic);
  }

  /** From the server: a topic's last local subscriber left. */
  unsubscribe(topic: string): void {
    if (!this.perClient) this.inner.unsubscribe(topic);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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
