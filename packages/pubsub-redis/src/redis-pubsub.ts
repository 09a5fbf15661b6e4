/**
 * A `PubSubAdapter` over Redis PUBLISH/SUBSCRIBE (ioredis): relays each publish to
 * every other server instance exactly once, in per-publisher order, binary and text
 * preserved, and keeps per-topic presence counts in Redis.
 *
 * Two connections: one for commands (PUBLISH, presence), one in subscriber mode.
 * Neither has an offline queue: while Redis is unreachable a publish is dropped at
 * once and counted, never buffered without bound. Commands in flight when a
 * connection drops fail (counted) and are not resent, so nothing is duplicated or
 * reordered by a reconnect.
 */
import { Redis } from "ioredis";
import { decodeEnvelope, encodeEnvelope, encodeInstanceId } from "./envelope.ts";
import type { LogLevel, Presence, RedisPubSub, RedisPubSubOptions, RedisPubSubStats } from "./types.ts";

const encoder = new TextEncoder();
/** Origins (instance + epoch) remembered for ordering; the oldest is forgotten beyond this. */
const MAX_ORIGINS = 4096;
/** Topics per SUBSCRIBE command when resubscribing after a reconnect. */
const RESUBSCRIBE_BATCH = 1000;

function defaultLog(level: LogLevel, message: string): void {
  const line = `[pubsub-redis] ${level}: ${message}`;
  if (level === "info") console.log(line);
  else console.error(line);
}

function randomId(): string {
  return crypto.randomUUID().replace(/-/g, "").slice(0, 16);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Creates the adapter and starts connecting; `ready()` resolves once it is connected. */
export function createRedisPubSub(options: RedisPubSubOptions): RedisPubSub {
  return new RedisPubSubImpl(options);
}

class RedisPubSubImpl implements RedisPubSub {
  readonly instanceId: string;
  readonly stats: RedisPubSubStats = {
    published: 0,
    received: 0,
    droppedWhileDisconnected: 0,
    droppedOverflow: 0,
    failed: 0,
    pending: 0,
    discarded: 0,
    reconnects: 0,
  };
  readonly presence: Presence;

  private readonly prefix: string;
  private readonly idBytes: Uint8Array;
  private readonly epoch = crypto.getRandomValues(new Uint32Array(1))[0]!;
  private readonly maxPending: number;
  readonly localEcho: boolean;
  private readonly heartbeatMs: number;
  private readonly log: (level: LogLevel, message: string) => void;
  private readonly pub: Redis;
  private readonly sub: Redis;

  private seq = 0;
  private cb: ((topic: string, data: Uint8Array, binary: boolean, compress: boolean) => void) | null = null;
  /** topic -> local reference count. */
  private readonly topics = new Map<string, number>();
  /** origin ("id/epoch") -> last sequence number delivered. */
  private readonly lastSeq = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  private pubReady = false;
  private subReady = false;
  private everConnected = false;
  private wasConnected = false;
  private dropsAtDisconnect = 0;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(options: RedisPubSubOptions) {
    this.prefix = options.channelPrefix ?? "wirehouse:";
    this.instanceId = options.instanceId ?? randomId();
    this.idBytes = encodeInstanceId(this.instanceId);
    this.maxPending = options.maxPendingPublishes ?? 65_536;
    this.localEcho = options.localEcho ?? false;
    this.heartbeatMs = options.heartbeatMs ?? 5000;
    this.log = options.log ?? defaultLog;
    const min = options.reconnectMinMs ?? 50;
    const max = options.reconnectMaxMs ?? 2000;
    const common = {
      lazyConnect: false,
      enableOfflineQueue: false,
      // In-flight commands fail on disconnect instead of being resent (no duplicates, no reordering).
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      retryStrategy: (times: number) => {
        const base = Math.min(max, min * 2 ** Math.min(times - 1, 16));
        return Math.round(base / 2 + Math.random() * (base / 2));
      },
    };
    this.pub = new Redis(options.url, {
      ...common,
      enableAutoPipelining: true,
      connectionName: `wh-pub-${this.instanceId}`,
    });
    this.sub = new Redis(options.url, { ...common, connectionName: `wh-sub-${this.instanceId}` });

    this.pub.on("ready", () => this.pubUp());
    this.pub.on("close", () => this.pubDown());
    this.pub.on("error", (err) => this.connError("publish", err));
    this.sub.on("ready", () => this.subUp());
    this.sub.on("close", () => this.subDown());
    this.sub.on("error", (err) => this.connError("subscribe", err));
    this.sub.on("messageBuffer", (channel: Uint8Array, message: Uint8Array) => this.receive(channel, message));

    this.presence = {
      count: async (topic) => {
        let n = 0;
        for (const c of (await this.presence.byInstance(topic)).values()) n += c;
        return n;
      },
      byInstance: (topic) => this.readPresence(topic),
      local: (topic) => this.topics.get(topic) ?? 0,
    };
  }

  get connected(): boolean {
    return this.pubReady && this.subReady;
  }

  ready(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error("pubsub-redis: adapter is closed"));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  flushed(): Promise<void> {
    if (this.stats.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private drainWaiters: Array<() => void> = [];
  private drained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  // ---- PubSubAdapter ----------------------------------------------------------------------

  publish(topic: string, data: Uint8Array | string, binary: boolean, compress = false): void {
    if (this.closed) return;
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    // Local subscribers never wait for (or depend on) Redis.
    if (this.localEcho && this.cb !== null && this.topics.has(topic)) this.cb(topic, payload, binary, compress);
    // Dropped publishes use a sequence number too: receivers see the gap, not a reuse.
    const seq = ++this.seq;
    if (!this.pubReady) {
      this.stats.droppedWhileDisconnected++;
      return;
    }
    if (this.stats.pending >= this.maxPending) {
      if (this.stats.droppedOverflow++ === 0 || this.stats.droppedOverflow % 10_000 === 0)
        this.log("warn", `${this.stats.droppedOverflow} publishes dropped: ${this.maxPending} already in flight`);
      return;
    }
    const msg = encodeEnvelope(this.idBytes, this.epoch, seq, binary, payload, compress);
    this.stats.pending++;
    // ioredis sends Uint8Array as raw bytes (Buffer view, no copy).
    this.pub.publish(this.prefix + topic, Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength)).then(
      () => {
        this.stats.published++;
        if (--this.stats.pending === 0) this.drained();
      },
      () => {
        this.stats.failed++;
        if (--this.stats.pending === 0) this.drained();
      },
    );
  }

  onMessage(cb: (topic: string, data: Uint8Array, binary: boolean, compress: boolean) => void): void {
    this.cb = cb;
  }

  subscribe(topic: string): void {
    if (this.closed) return;
    const n = (this.topics.get(topic) ?? 0) + 1;
    this.topics.set(topic, n);
    this.markDirty(topic);
    // While disconnected, the topic is subscribed by the resubscribe on reconnect.
    if (n === 1 && this.subReady)
      this.sub.subscribe(this.prefix + topic).catch((err) => this.log("warn", `SUBSCRIBE ${topic}: ${describe(err)}`));
  }

  unsubscribe(topic: string): void {
    const n = this.topics.get(topic);
    if (n === undefined || this.closed) return;
    this.markDirty(topic);
    if (n > 1) {
      this.topics.set(topic, n - 1);
      return;
    }
    this.topics.delete(topic);
    if (this.subReady)
      this.sub
        .unsubscribe(this.prefix + topic)
        .catch((err) => this.log("warn", `UNSUBSCRIBE ${topic}: ${describe(err)}`));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cb = null;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    const wasPubReady = this.pubReady;
    this.pubReady = false;
    this.subReady = false;
    if (wasPubReady) {
      // Best effort: take this instance out of presence at once instead of waiting for its heartbeat to expire.
      const m = this.pub.multi();
      for (const topic of this.topics.keys()) m.hdel(this.presenceKey(topic), this.instanceId);
      m.del(this.aliveKey(this.instanceId));
      await m.exec().catch(() => undefined);
    }
    this.topics.clear();
    await Promise.all([quit(this.pub), quit(this.sub)]);
  }

  // ---- connection state ----------------------------------------------------------------------

  private pubUp(): void {
    if (this.closed) return;
    this.pubReady = true;
    this.writeAllPresence();
    if (this.heartbeat === null) {
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      (this.heartbeat as { unref?: () => void }).unref?.();
    }
    this.maybeConnected();
  }

  private subUp(): void {
    if (this.closed) return;
    const channels = [...this.topics.keys()].map((t) => this.prefix + t);
    const batches: Promise<unknown>[] = [];
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH)
      batches.push(this.sub.subscribe(...channels.slice(i, i + RESUBSCRIBE_BATCH)));
    Promise.all(batches).then(
      () => {
        if (this.closed || this.sub.status !== "ready") return;
        this.subReady = true;
        if (channels.length > 0 && this.everConnected) this.log("info", `resubscribed ${channels.length} topics`);
        this.maybeConnected();
      },
      (err) => this.log("warn", `resubscribe failed (will retry on reconnect): ${describe(err)}`),
    );
  }

  private maybeConnected(): void {
    if (!this.connected || this.wasConnected) return;
    this.wasConnected = true;
    if (this.everConnected) {
      this.stats.reconnects++;
      const dropped = this.stats.droppedWhileDisconnected - this.dropsAtDisconnect;
      this.log("info", `reconnected to Redis; ${dropped} publishes were dropped while disconnected`);
    }
    this.everConnected = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private lost(which: string): void {
    if (this.closed) return;
    if (this.wasConnected) {
      this.wasConnected = false;
      this.dropsAtDisconnect = this.stats.droppedWhileDisconnected;
      this.log("warn", `lost the ${which} connection to Redis; local delivery continues, reconnecting with backoff`);
    }
  }

  private pubDown(): void {
    this.pubReady = false;
    this.lost("publish");
  }

  private subDown(): void {
    this.subReady = false;
    this.lost("subscribe");
  }

  private lastError = "";
  private connError(which: string, err: unknown): void {
    if (this.closed) return;
    const text = describe(err);
    // Reconnect attempts repeat the same error; say it once per outage.
    if (text === this.lastError && !this.connected) return;
    this.lastError = text;
    this.log("error", `${which} connection: ${text}`);
  }

  // ---- receiving -----------------------------------------------------------------------------

  private receive(channel: Uint8Array, message: Uint8Array): void {
    const env = decodeEnvelope(message);
    if (env === null) return;
    if (env.epoch === this.epoch && env.instanceId === this.instanceId) return;
    const origin = `${env.instanceId}/${env.epoch}`;
    const last = this.lastSeq.get(origin);
    if (last !== undefined && env.seq <= last) {
      this.stats.discarded++;
      return;
    }
    if (last === undefined && this.lastSeq.size >= MAX_ORIGINS) {
      const oldest = this.lastSeq.keys().next().value;
      if (oldest !== undefined) this.lastSeq.delete(oldest);
    }
    this.lastSeq.set(origin, env.seq);
    const cb = this.cb;
    if (cb === null) return;
    const topic = new TextDecoder().decode(channel).slice(this.prefix.length);
    if (!this.topics.has(topic)) return;
    this.stats.received++;
    cb(topic, env.payload, env.binary, env.compress);
  }

  // ---- presence ------------------------------------------------------------------------------

  private presenceKey(topic: string): string {
    return `${this.prefix}presence:${topic}`;
  }

  private aliveKey(id: string): string {
    return `${this.prefix}alive:${id}`;
  }

  private markDirty(topic: string): void {
    this.dirty.add(topic);
    if (this.flushTimer !== null) return;
    // Coalesce a burst of (un)subscribes into one round trip.
    this.flushTimer = setTimeout(() => this.flushPresence(), 10);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  private flushPresence(): void {
    this.flushTimer = null;
    if (!this.pubReady || this.dirty.size === 0) return; // rewritten in full on reconnect
    const m = this.pub.multi();
    for (const topic of this.dirty) {
      const n = this.topics.get(topic) ?? 0;
      if (n > 0) m.hset(this.presenceKey(topic), this.instanceId, n);
      else m.hdel(this.presenceKey(topic), this.instanceId);
    }
    this.dirty.clear();
    m.exec().catch((err) => this.log("warn", `presence update failed: ${describe(err)}`));
  }

  private beat(): void {
    if (!this.pubReady) return;
    this.pub
      .set(this.aliveKey(this.instanceId), "1", "PX", this.heartbeatMs * 3)
      .catch((err) => this.log("warn", `presence heartbeat failed: ${describe(err)}`));
  }

  /** After (re)connecting: Redis may have restarted empty, so every count is written again. */
  private writeAllPresence(): void {
    const m = this.pub.multi();
    m.set(this.aliveKey(this.instanceId), "1", "PX", this.heartbeatMs * 3);
    for (const [topic, n] of this.topics) m.hset(this.presenceKey(topic), this.instanceId, n);
    this.dirty.clear();
    m.exec().catch((err) => this.log("warn", `presence rewrite failed: ${describe(err)}`));
  }

  private async readPresence(topic: string): Promise<Map<string, number>> {
    if (!this.pubReady) throw new Error("pubsub-redis: presence unavailable, Redis is not connected");
    const key = this.presenceKey(topic);
    const all = await this.pub.hgetall(key);
    const ids = Object.keys(all).filter((id) => id !== this.instanceId);
    const out = new Map<string, number>();
    const own = this.topics.get(topic) ?? 0;
    if (own > 0) out.set(this.instanceId, own);
    if (ids.length === 0) return out;
    const alive = await this.pub.mget(ids.map((id) => this.aliveKey(id)));
    const dead: string[] = [];
    ids.forEach((id, i) => {
      const n = Number(all[id]);
      if (alive[i] === null) dead.push(id);
      else if (n > 0) out.set(id, n);
    });
    // Instances that stopped without cleaning up: forget them (their heartbeat expired).
    if (dead.length > 0) this.pub.hdel(key, ...dead).catch(() => undefined);
    return out;
  }
}

async function quit(r: Redis): Promise<void> {
  if (r.status === "ready") {
    try {
      await r.quit();
      return;
    } catch {}
  }
  r.disconnect(false);
}
