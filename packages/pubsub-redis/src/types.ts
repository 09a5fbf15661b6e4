/**
 * The pub/sub seam of @wirehouse/server, restated here so this package has no
 * runtime dependency on the server. It is structurally the same interface as
 * `PubSubAdapter` from "@wirehouse/server".
 */
export interface PubSubAdapter {
  /**
   * Relays a publish to the other instances (never back to this one). `compress`: the publisher
   * asked for permessage-deflate, carried along for the other instances' servers (default false).
   */
  publish(topic: string, data: Uint8Array | string, binary: boolean, compress?: boolean): void;
  /** Called once per message published on ANOTHER instance, for topics subscribed here. */
  onMessage(cb: (topic: string, data: Uint8Array, binary: boolean, compress: boolean) => void): void;
  /** Reference-counted: the Redis channel is subscribed on the first call for a topic. */
  subscribe(topic: string): void;
  /** Reference-counted: the Redis channel is unsubscribed when the count drops to 0. */
  unsubscribe(topic: string): void;
  close(): Promise<void>;
  /**
   * Whether this adapter also hands its own instance's publishes to `onMessage` (the
   * `localEcho` option). @wirehouse/server refuses such an adapter: it delivers its own
   * publishes itself.
   */
  readonly localEcho: boolean;
}

export type LogLevel = "info" | "warn" | "error";

export interface RedisPubSubOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of every Redis channel and key this adapter uses. Default `"wirehouse:"`. */
  channelPrefix?: string;
  /** Unique per process. Default: a random id. 1..255 UTF-8 bytes. */
  instanceId?: string;
  /** Publishes sent to Redis and not yet confirmed; beyond this, publishes are dropped (counted). Default 65,536. */
  maxPendingPublishes?: number;
  /** Where state changes (disconnected, reconnected, resubscribed, drops) are reported. Default: console. */
  log?: (level: LogLevel, message: string) => void;
  /** Reconnect backoff: first delay and cap in ms (doubling, with jitter). Default 50 and 2,000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * Also hand this instance's own publishes to `onMessage`, synchronously, before relaying
   * (connected or not): for a server that delivers its publishes to its local subscribers
   * through the adapter. Not with @wirehouse/server, which delivers them itself and refuses
   * an adapter with this on. Default false: messages from other instances only.
   */
  localEcho?: boolean;
  /** Presence heartbeat period in ms; an instance silent for 3 periods is not counted. Default 5,000. */
  heartbeatMs?: number;
}

export interface RedisPubSubStats {
  /** Publishes Redis confirmed. */
  published: number;
  /** Messages from other instances handed to `onMessage`. */
  received: number;
  /** Publishes dropped because the publishing connection was down (never sent). */
  droppedWhileDisconnected: number;
  /** Publishes dropped because `maxPendingPublishes` were already in flight. */
  droppedOverflow: number;
  /** Publishes sent but unconfirmed when the connection was lost (may or may not have reached Redis). */
  failed: number;
  /** Publishes sent and not yet confirmed. */
  pending: number;
  /** Messages received twice or out of order from one publisher, and discarded (expected: 0). */
  discarded: number;
  /** Times the adapter got back to connected + resubscribed after losing Redis. */
  reconnects: number;
}

export interface Presence {
  /** Subscribers of `topic` summed over live instances (this one included). Rejects while Redis is unreachable. */
  count(topic: string): Promise<number>;
  /** The same, per live instance id. */
  byInstance(topic: string): Promise<Map<string, number>>;
  /** This instance's own count (the subscribe/unsubscribe reference count). */
  local(topic: string): number;
}

export interface RedisPubSub extends PubSubAdapter {
  readonly instanceId: string;
  readonly stats: Readonly<RedisPubSubStats>;
  readonly presence: Presence;
  /** True while both Redis connections are up and every topic is subscribed. */
  readonly connected: boolean;
  /** Resolves when `connected` (at once if it already is). */
  ready(): Promise<void>;
  /** Resolves when every publish sent so far is confirmed or failed (`stats.pending` is 0). */
  flushed(): Promise<void>;
}
