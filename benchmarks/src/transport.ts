/**
 * @module
 * The load generator's TCP layer: one small interface over the cheapest
 * client sockets each runtime offers, so a worker's per-message work is one
 * read callback and one write call.
 *
 * - `node:tcp_wrap`: Node's own libuv TCP handles (what `node:net` wraps),
 *   without `net.Socket`, streams, timers or events: per connection a handle
 *   and a connect request; per read one callback with the byte count, all
 *   sockets reading into one shared buffer; per write one `writeBuffer` call.
 * - `node:net`: `net.connect` with a shared `onread` buffer, when the
 *   internal bindings are not there.
 * - `bun`: `Bun.connect` (uSockets), one shared handler object.
 */
import { transportBun } from "./transport-bun.ts";
import { transportNet, transportTcpWrap } from "./transport-node.ts";

/** What a transport tells the owner of a connection. Methods are looked up on every call, so they may be replaced. */
export interface Sink {
  /** The TCP connection is up. */
  onConnect(): void;
  /** `buf[0..n)` was read; the bytes are valid only until this returns (a shared buffer). */
  onBytes(buf: Uint8Array, n: number): void;
  /**
   * The connection is gone: closed by the peer (`error` undefined) or failed (`error` is a message,
   * `code` the errno name such as ECONNREFUSED). Called at most once, never after `reset()`.
   */
  onClose(error?: string, code?: string): void;
}

/** One connection. */
export interface Link {
  /** Writes the bytes, in order; they must not change afterwards (the same frames are written again and again). */
  write(data: Uint8Array): void;
  /** Closes with RST (no TIME_WAIT left on the client's port); no `onClose` follows. */
  reset(): void;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** Source address and port to bind (port 0 or absent: the kernel chooses). */
  localAddress?: string;
  localPort?: number;
  /** TCP_NODELAY (echo and broadcast want it; opening only does not need the extra call). */
  noDelay: boolean;
}

export interface Transport {
  /** `node:tcp_wrap`, `node:net` or `bun`. */
  readonly name: string;
  connect(options: ConnectOptions, sink: Sink): Link;
}

/** The cheapest transport of the running runtime (`LOADGEN_TRANSPORT=node:net` forces the stream-based one on Node). */
export function pickTransport(): Transport {
  const forced = process.env.LOADGEN_TRANSPORT;
  if (process.versions.bun && forced !== "node:net") {
    const t = transportBun();
    if (t) return t;
  }
  if (forced !== "node:net") {
    const t = transportTcpWrap();
    if (t) return t;
  }
  return transportNet();
}
