/**
 * The in-host relay over a loopback socket, for several server processes on one
 * machine without Redis, on every runtime (Node, Deno, Bun): the parent runs
 * `createSocketRelay()` (it listens on 127.0.0.1, port 0, through
 * @wirehouse/transport) and hands `relay.address` to its workers (an environment
 * variable); each worker uses `createSocketPubSub({ address })`. Unlike the IPC
 * relay it needs no IPC channel, so it works with workers spawned any way.
 *
 * Wire format (both directions): frames of a 32-bit big-endian length (of what
 * follows), a kind byte, then:
 * - HELLO (1): the token, UTF-8 — the first frame a worker sends; the relay closes
 *   connections whose first frame is anything else;
 * - SUB (2) / UNSUB (3): the topic, UTF-8 — one per subscribe / unsubscribe call
 *   (the relay reference-counts per worker, which makes the presence counts);
 * - PUB (4): flags (bit 0: binary, bit 1: compress), a 16-bit topic length, the topic, the payload;
 * - SET (5): a 32-bit count, the topic — a worker's whole count for a topic (on reconnect);
 * - QUERY (6): a 32-bit id, the topic — answered by COUNT (7): the id, the subscriptions
 *   summed over the connected workers, and how many workers have any (32 bits each).
 * The relay forwards a PUB frame's bytes unchanged (copied once, written to every
 * other subscribed worker) in the order it read them, never back to the sender;
 * TCP keeps each worker's order, so delivery is exactly once and in per-publisher
 * order while the connections live.
 */
import { type Connection, connect, type Listener, listen } from "@wirehouse/transport";
import type { LogLevel, PubSubAdapter } from "./types.ts";

const HELLO = 1;
const SUB = 2;
const UNSUB = 3;
const PUB = 4;
const SET = 5;
const QUERY = 6;
const COUNT = 7;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Default largest frame accepted (a payload above this closes the connection). */
export const DEFAULT_MAX_FRAME = 64 << 20;

function frame(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1 + body.byteLength);
  out[4] = kind;
  out.set(body, 5);
  return out;
}

/** A frame of a 32-bit number then the topic (SET, QUERY). */
function numberFrame(kind: number, n: number, topic: string): Uint8Array {
  const t = encoder.encode(topic);
  const body = new Uint8Array(4 + t.byteLength);
  new DataView(body.buffer).setUint32(0, n);
  body.set(t, 4);
  return frame(kind, body);
}

/** A PUB frame: one allocation, header and payload together. */
export function encodePub(topic: string, data: Uint8Array, binary: boolean, compress = false): Uint8Array {
  const t = encoder.encode(topic);
  if (t.byteLength > 0xffff) throw new RangeError("topic longer than 65,535 UTF-8 bytes");
  const out = new Uint8Array(8 + t.byteLength + data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + t.byteLength + data.byteLength);
  out[4] = PUB;
  out[5] = (binary ? 1 : 0) | (compress ? 2 : 0);
  view.setUint16(6, t.byteLength);
  out.set(t, 8);
  out.set(data, 8 + t.byteLength);
  return out;
}

/** Decoded PUB frame fields; `payload` is a view into `frame`. */
export function decodePub(
  f: Uint8Array,
): { topic: string; binary: boolean; compress: boolean; payload: Uint8Array } | null {
  if (f.byteLength < 8 || f[4] !== PUB) return null;
  const tl = (f[6] as number) * 256 + (f[7] as number);
  if (8 + tl > f.byteLength) return null;
  return {
    topic: decoder.decode(f.subarray(8, 8 + tl)),
    binary: ((f[5] as number) & 1) === 1,
    compress: ((f[5] as number) & 2) === 2,
    payload: f.subarray(8 + tl),
  };
}

/**
 * Splits a byte stream into frames. `push` calls `onFrame` with each whole frame
 * (length prefix included); a frame is a view that is valid only during the call.
 * Returns false (and stops) on a frame above `maxFrame` or an empty one.
 */
export class FrameReader {
  private pending: Uint8Array | null = null;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  push(bytes: Uint8Array, onFrame: (frame: Uint8Array) => void): boolean {
    let buf = bytes;
    if (this.pending !== null) {
      const joined = new Uint8Array(this.pending.byteLength + bytes.byteLength);
      joined.set(this.pending);
      joined.set(bytes, this.pending.byteLength);
      buf = joined;
      this.pending = null;
    }
    let at = 0;
    while (buf.byteLength - at >= 4) {
      const len =
        (((buf[at] as number) << 24) |
          ((buf[at + 1] as number) << 16) |
          ((buf[at + 2] as number) << 8) |
          (buf[at + 3] as number)) >>>
        0;
      if (len === 0 || len > this.maxFrame) return false;
      if (buf.byteLength - at < 4 + len) break;
      onFrame(buf.subarray(at, at + 4 + len));
      at += 4 + len;
    }
    // The tail outlives this call: copy it (the transport may reuse `bytes`).
    if (at < buf.byteLength) this.pending = buf.slice(at);
    return true;
  }
}

/** `host:port/token`, the form `relay.address` has and `createSocketPubSub` takes. */
export function parseRelayAddress(address: string): { hostname: string; port: number; token: string } {
  const m = /^(.+):(\d{1,5})\/([A-Za-z0-9_-]+)$/.exec(address);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`not a relay address (host:port/token): "${address}"`);
  return { hostname: (m[1] as string).replace(/^\[(.*)\]$/, "$1"), port, token: m[3] as string };
}

export interface SocketRelayOptions {
  /** Loopback address to listen on. Default "127.0.0.1". */
  hostname?: string;
  /** Port. Default 0 (an ephemeral port). */
  port?: number;
  /** Shared secret the workers must send first. Default: 32 random hex digits. */
  token?: string;
  /** Largest frame accepted from a worker. Default 64 MiB. */
  maxFrame?: number;
  /** Bytes buffered for one worker beyond which it is disconnected (it reconnects). Default 16 MiB. */
  maxBufferedAmount?: number;
}

export interface SocketRelayStats {
  /** PUB frames written to workers. */
  relayed: number;
  /** Workers connected now (after their HELLO). */
  workers: number;
  /** Connections closed for a wrong token, a bad frame or a worker that did not read. */
  rejected: number;
}

export interface SocketRelay {
  /** `host:port/token`: give it to each worker (for `createSocketPubSub({ address })`). */
  readonly address: string;
  readonly port: number;
  /** Workers with subscribers for `topic` (the in-host presence count of instances). */
  count(topic: string): number;
  /** Subscriptions to `topic` summed over the workers (their subscribe calls; the app's clients). */
  total(topic: string): number;
  readonly stats: Readonly<SocketRelayStats>;
  close(): Promise<void>;
}

/** Per worker: its subscription count per topic (present only while above 0). */
type RelayPeer = { authed: boolean; dead: boolean; topics: Map<string, number>; reader: FrameReader };

/** The parent side: listens on loopback and relays between the workers that connect. */
export async function createSocketRelay(options: SocketRelayOptions = {}): Promise<SocketRelay> {
  const hostname = options.hostname ?? "127.0.0.1";
  const token = options.token ?? randomToken();
  const maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
  const peers = new Set<Connection<RelayPeer>>();
  const stats: SocketRelayStats = { relayed: 0, workers: 0, rejected: 0 };
  const reject = (conn: Connection<RelayPeer>) => {
    const peer = conn.state as RelayPeer;
    if (peer.dead) return;
    peer.dead = true;
    stats.rejected++;
    peers.delete(conn);
    stats.workers = peers.size;
    conn.destroy();
  };
  const onFrame = (conn: Connection<RelayPeer>, peer: RelayPeer, f: Uint8Array) => {
    const kind = f[4];
    if (!peer.authed) {
      if (kind !== HELLO || decoder.decode(f.subarray(5)) !== token) return reject(conn);
      peer.authed = true;
      peers.add(conn);
      stats.workers = peers.size;
      return;
    }
    if (kind === SUB) {
      const topic = decoder.decode(f.subarray(5));
      peer.topics.set(topic, (peer.topics.get(topic) ?? 0) + 1);
    } else if (kind === UNSUB) {
      const topic = decoder.decode(f.subarray(5));
      const n = (peer.topics.get(topic) ?? 0) - 1;
      if (n > 0) peer.topics.set(topic, n);
      else peer.topics.delete(topic);
    } else if (kind === SET || kind === QUERY) {
      if (f.byteLength < 9) return reject(conn);
      const n = new DataView(f.buffer, f.byteOffset + 5, 4).getUint32(0);
      const topic = decoder.decode(f.subarray(9));
      if (kind === SET) {
        if (n > 0) peer.topics.set(topic, n);
        else peer.topics.delete(topic);
      } else {
        const { total, instances } = presence(topic);
        const reply = new Uint8Array(17);
        const view = new DataView(reply.buffer);
        view.setUint32(0, 13);
        reply[4] = COUNT;
        view.setUint32(5, n);
        view.setUint32(9, Math.min(total, 0xffffffff));
        view.setUint32(13, instances);
        conn.write(reply);
      }
    } else if (kind === PUB) {
      const pub = decodePub(f);
      if (pub === null) return reject(conn);
      let copy: Uint8Array | null = null;
      for (const other of peers)
        if (other !== conn && other.state?.topics.has(pub.topic)) {
          copy ??= f.slice(); // encode once (well, copy once), write many
          stats.relayed++;
          other.write(copy);
        }
    } else reject(conn);
  };
  const presence = (topic: string) => {
    let total = 0;
    let instances = 0;
    for (const p of peers) {
      const n = p.state?.topics.get(topic) ?? 0;
      if (n > 0) {
        total += n;
        instances++;
      }
    }
    return { total, instances };
  };
  const listener: Listener = await listen<RelayPeer>(
    { hostname, port: options.port ?? 0, maxBufferedAmount: options.maxBufferedAmount ?? 16 << 20 },
    {
      open(conn) {
        conn.state = { authed: false, dead: false, topics: new Map(), reader: new FrameReader(maxFrame) };
      },
      data(conn, bytes) {
        const peer = conn.state as RelayPeer;
        if (!peer.reader.push(bytes, (f) => !peer.dead && onFrame(conn, peer, f))) reject(conn);
      },
      close(conn, error) {
        const peer = conn.state as RelayPeer;
        // A worker that did not read fast enough (its buffer passed maxBufferedAmount).
        if (!peer.dead && (error as { code?: string } | undefined)?.code === "ERR_WRITE_BUFFER_LIMIT") stats.rejected++;
        peer.dead = true;
        peers.delete(conn);
        stats.workers = peers.size;
      },
    },
  );
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    address: `${shown}:${listener.port}/${token}`,
    port: listener.port,
    stats,
    count(topic) {
      return presence(topic).instances;
    },
    total(topic) {
      return presence(topic).total;
    },
    async close() {
      await listener.close();
      for (const p of peers) p.destroy();
      peers.clear();
      stats.workers = 0;
    },
  };
}

export interface SocketPubSubOptions {
  /** `relay.address` from the parent (`host:port/token`). */
  address: string;
  /** Also hand own publishes to `onMessage`, synchronously (as the Redis adapter's option). */
  localEcho?: boolean;
  /** Reconnect backoff: first delay and cap in ms (doubling, with jitter). Default 50 and 2,000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Bytes buffered toward the relay beyond which publishes are dropped (counted). Default 8 MiB. */
  maxBufferedAmount?: number;
  /** Largest frame accepted from the relay. Default 64 MiB. */
  maxFrame?: number;
  /** Where losing and regaining the relay is reported. Default: console. */
  log?: (level: LogLevel, message: string) => void;
}

export interface SocketPubSubStats {
  /** Publishes written to the relay. */
  published: number;
  /** Messages from other workers handed to `onMessage`. */
  received: number;
  /** Publishes dropped because the relay connection was down. */
  droppedWhileDisconnected: number;
  /** Publishes dropped because `maxBufferedAmount` bytes were waiting to be sent. */
  droppedOverflow: number;
  /** Times the connection to the relay was regained after losing it. */
  reconnects: number;
}

export interface SocketPubSub extends PubSubAdapter {
  readonly stats: Readonly<SocketPubSubStats>;
  /** True while connected to the relay. */
  readonly connected: boolean;
  /** Resolves when connected (at once if it is); rejects if `close()` is called first. */
  ready(): Promise<void>;
  /** This worker's subscribe/unsubscribe reference count for `topic`. */
  local(topic: string): number;
  /**
   * Asks the relay: subscriptions to `topic` summed over every connected worker (this one
   * included) and how many workers have any. Rejects while disconnected, or after 2 s.
   */
  presence(topic: string): Promise<{ total: number; instances: number }>;
}

/** The worker side: connects to the relay at `options.address`, reconnecting with backoff. */
export function createSocketPubSub(options: SocketPubSubOptions): SocketPubSub {
  const { hostname, port, token } = parseRelayAddress(options.address);
  const localEcho = options.localEcho ?? false;
  const minMs = options.reconnectMinMs ?? 50;
  const maxMs = options.reconnectMaxMs ?? 2000;
  const maxBuffered = options.maxBufferedAmount ?? 8 << 20;
  const maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
  const log = options.log ?? ((level: LogLevel, message: string) => console[level](`pubsub: ${message}`));
  const topics = new Map<string, number>();
  const stats: SocketPubSubStats = {
    published: 0,
    received: 0,
    droppedWhileDisconnected: 0,
    droppedOverflow: 0,
    reconnects: 0,
  };
  let cb: ((topic: string, data: Uint8Array, binary: boolean, compress: boolean) => void) | null = null;
  let conn: Connection | null = null;
  let closed = false;
  let everConnected = false;
  let lostAt = 0; // droppedWhileDisconnected when the connection was lost
  let delay = minMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: { resolve(): void; reject(e: Error): void }[] = [];

  type Query = { resolve(v: { total: number; instances: number }): void; reject(e: Error): void; timer: unknown };
  const queries = new Map<number, Query>();
  let nextQuery = 0;
  const failQueries = (why: string) => {
    for (const q of queries.values()) {
      clearTimeout(q.timer as ReturnType<typeof setTimeout>);
      q.reject(new Error(why));
    }
    queries.clear();
  };

  const onFrame = (f: Uint8Array) => {
    if (f[4] === COUNT && f.byteLength === 17) {
      const view = new DataView(f.buffer, f.byteOffset, 17);
      const q = queries.get(view.getUint32(5));
      if (q === undefined) return;
      queries.delete(view.getUint32(5));
      clearTimeout(q.timer as ReturnType<typeof setTimeout>);
      q.resolve({ total: view.getUint32(9), instances: view.getUint32(13) });
      return;
    }
    const pub = decodePub(f);
    if (pub === null || cb === null || !topics.has(pub.topic)) return;
    stats.received++;
    // The frame's bytes are only valid during this call: the receiver may keep the payload.
    cb(pub.topic, pub.payload.slice(), pub.binary, pub.compress);
  };

  const attempt = async () => {
    timer = undefined;
    if (closed) return;
    const reader = new FrameReader(maxFrame);
    let c: Connection;
    try {
      c = await connect(
        { hostname, port },
        {
          data(c2, bytes) {
            if (!reader.push(bytes, onFrame)) c2.destroy(new Error("bad frame from the relay"));
          },
          close() {
            if (conn === c) lost();
          },
        },
      );
    } catch (e) {
      if (closed) return;
      if (!everConnected && delay === minMs)
        log("warn", `cannot reach the in-host relay at ${hostname}:${port} (${(e as Error).message}); retrying`);
      return schedule();
    }
    if (closed || c.closed) {
      c.destroy();
      if (!closed) schedule();
      return;
    }
    conn = c;
    const out: Uint8Array[] = [frame(HELLO, encoder.encode(token))];
    for (const [topic, n] of topics) out.push(numberFrame(SET, n, topic));
    c.write(out);
    delay = minMs;
    if (everConnected) {
      stats.reconnects++;
      log(
        "info",
        `reconnected to the in-host relay; resubscribed ${topics.size} topics; ${stats.droppedWhileDisconnected - lostAt} publishes were dropped while disconnected`,
      );
    }
    everConnected = true;
    const w = waiters;
    waiters = [];
    for (const x of w) x.resolve();
  };

  const schedule = () => {
    if (closed || timer !== undefined) return;
    const wait = Math.min(maxMs, delay) * (0.5 + Math.random() * 0.5);
    delay = Math.min(maxMs, delay * 2);
    timer = setTimeout(() => void attempt(), wait);
    (timer as { unref?(): void }).unref?.();
  };

  const lost = () => {
    conn = null;
    failQueries("lost the connection to the in-host relay");
    if (closed) return;
    lostAt = stats.droppedWhileDisconnected;
    log("warn", "lost the connection to the in-host relay; local delivery continues, reconnecting with backoff");
    schedule();
  };

  const send = (bytes: Uint8Array) => {
    if (conn !== null) conn.write(bytes);
  };

  void attempt();

  return {
    stats,
    localEcho,
    get connected() {
      return conn !== null;
    },
    ready() {
      if (conn !== null) return Promise.resolve();
      if (closed) return Promise.reject(new Error("closed"));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    local(topic) {
      return topics.get(topic) ?? 0;
    },
    presence(topic) {
      if (conn === null) return Promise.reject(new Error("not connected to the in-host relay"));
      const id = (nextQuery = (nextQuery + 1) >>> 0);
      const c = conn;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          queries.delete(id);
          reject(new Error("the in-host relay did not answer within 2 s"));
        }, 2000);
        queries.set(id, { resolve, reject, timer });
        c.write(numberFrame(QUERY, id, topic));
      });
    },
    publish(topic, data, binary, compress = false) {
      if (closed) return;
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      if (localEcho && cb !== null && topics.has(topic)) cb(topic, bytes, binary, compress);
      if (conn === null) {
        stats.droppedWhileDisconnected++;
        return;
      }
      if (conn.bufferedAmount > maxBuffered) {
        stats.droppedOverflow++;
        return;
      }
      stats.published++;
      conn.write(encodePub(topic, bytes, binary, compress));
    },
    onMessage(fn) {
      cb = fn;
    },
    subscribe(topic) {
      if (closed) return;
      const n = (topics.get(topic) ?? 0) + 1;
      topics.set(topic, n);
      send(frame(SUB, encoder.encode(topic)));
    },
    unsubscribe(topic) {
      const n = topics.get(topic);
      if (n === undefined || closed) return;
      if (n > 1) topics.set(topic, n - 1);
      else topics.delete(topic);
      send(frame(UNSUB, encoder.encode(topic)));
    },
    async close() {
      if (closed) return;
      closed = true;
      cb = null;
      clearTimeout(timer);
      const w = waiters;
      waiters = [];
      for (const x of w) x.reject(new Error("closed"));
      failQueries("closed");
      const c = conn;
      conn = null;
      c?.end(); // what was written goes out first
    },
  };
}

function randomToken(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
