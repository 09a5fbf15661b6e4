/**
 * The one interface every runtime adapter implements.
 *
 * Ownership rule for received bytes: the `Uint8Array` passed to
 * `handlers.data(conn, bytes)` is valid only until `data` returns. Adapters
 * may reuse the memory behind it for the next read (the Deno adapter does),
 * so a consumer that keeps bytes beyond the call (a partial frame, a request
 * head split across reads) must copy them (`bytes.slice()`). Parsing in place
 * inside the call is safe and is the intended fast path. One exception:
 * passing `bytes` (or a subarray of it) to `conn.write()` of the same
 * connection during the call needs no copy; an adapter that reuses read
 * buffers notices it and reads into another buffer until that write is done.
 *
 * Ownership rule for written bytes: `write()` keeps a reference until the
 * bytes are handed to the system, so the caller must not modify a buffer
 * after passing it to `write()` (encoding a broadcast frame once and writing
 * the same bytes to many connections is fine).
 */
import type { TimerWheel } from "./timer-wheel.ts";

export type AdapterName = "node" | "bun" | "deno";

/** A TCP or TLS connection, identical on every adapter. */
export interface Connection<S = unknown> {
  /** A slot for the consumer's per-connection state. The transport never reads it. */
  state: S | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes accepted by `write()` and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** ALPN protocol agreed on a TLS connection (`"http/1.1"`), or `""`. */
  readonly alpnProtocol: string;
  /** SNI server name the TLS client asked for, or `""` (not known on every runtime). */
  readonly servername: string;
  /** True once `close` has been (or is about to be) delivered. */
  readonly closed: boolean;
  /**
   * Queues bytes. Everything written in one tick goes to the kernel in one
   * system write. Returns false once `bufferedAmount` reaches the high-water
   * mark; `drain` follows when it drops below again. Writes after `end()` or
   * `destroy()` are dropped (and return false).
   */
  write(data: Uint8Array | readonly Uint8Array[]): boolean;
  /**
   * A buffer of `n` bytes for the caller to fill and pass to this connection's `write()` at
   * once, before anything else is allocated or written: a frame encoded straight into it skips
   * an allocation and a copy. The Node adapter's plain TCP connections hand out memory of their
   * write pool, valid for that one write only: do not keep it, and do not write it to a second
   * connection (encode a broadcast frame into an ordinary buffer instead). Other connections
   * return `new Uint8Array(n)`. A buffer that is not written after all is simply left: the next
   * allocation takes it back.
   */
  allocate(n: number): Uint8Array;
  /** Flushes every byte already written, then sends FIN. Never loses written bytes. */
  end(): void;
  /** Closes at once, dropping unsent bytes; `error` is passed to the `close` handler. */
  destroy(error?: Error): void;
  /** Stops reading (no `data` calls) until `resume()`. */
  pause(): void;
  resume(): void;
}

export interface Handlers<S = unknown> {
  /** A connection is ready (after the TLS handshake on TLS listeners). */
  open?(conn: Connection<S>): void;
  /** Bytes arrived. See the ownership rule at the top of this file. */
  data(conn: Connection<S>, bytes: Uint8Array): void;
  /** `bufferedAmount` fell below the high-water mark after `write()` returned false. */
  drain?(conn: Connection<S>): void;
  /** The connection is gone. Called exactly once per opened connection; `error` says why if it was not a clean close. */
  close?(conn: Connection<S>, error?: Error): void;
}

/** PEM certificate chain and private key. */
export interface CertificateKey {
  cert: string | Uint8Array;
  key: string | Uint8Array;
}

export interface ServerTlsOptions extends CertificateKey {
  /**
   * More certificates chosen by SNI (`"example.com"` or `"*.example.com"`);
   * the top-level `cert`/`key` is the default. Supported by the Node adapter
   * (SNICallback) and the Deno adapter (Deno's certificate resolver); Bun's
   * `Bun.listen` takes one TLS configuration, so the Bun adapter throws
   * `ERR_TLS_SNI_UNSUPPORTED` at listen time (use the Node adapter on Bun).
   */
  sni?: Record<string, CertificateKey>;
  /** ALPN protocols offered, in order of preference. Default `["http/1.1"]`. */
  alpn?: string[];
}

export interface ClientTlsOptions {
  /** Trusted CA certificates (PEM). Default: the runtime's store. */
  ca?: string | Uint8Array | (string | Uint8Array)[];
  /** SNI name to send and to verify the certificate against. Default: the hostname. */
  servername?: string;
  /** ALPN protocols to offer. Default `["http/1.1"]`. */
  alpn?: string[];
}

export interface CommonOptions {
  /** Force an adapter (default: the one for the current runtime, detected once). */
  adapter?: AdapterName;
  /** `write()` returns false at or above this many buffered bytes. Default 64 KiB. */
  highWaterMark?: number;
  /** A connection whose `bufferedAmount` exceeds this is destroyed with `ERR_WRITE_BUFFER_LIMIT`. Default 16 MiB. */
  maxBufferedAmount?: number;
  /** Close connections that received nothing for this many ms (`ERR_IDLE_TIMEOUT`). 0 = never (default). */
  idleTimeout?: number;
  /** The timer wheel that drives deadlines. Default: one created for this listener. */
  wheel?: TimerWheel;
  /** TCP_NODELAY. Default true (writes are coalesced per tick already). */
  noDelay?: boolean;
}

export interface ListenOptions extends CommonOptions {
  /** Default 0 (an ephemeral port; read `listener.port`). */
  port?: number;
  /** Default "0.0.0.0". */
  hostname?: string;
  tls?: ServerTlsOptions;
  /** Connections beyond this many are closed at once and counted in `listener.rejected`. Default unlimited. */
  maxConnections?: number;
  /**
   * SO_REUSEPORT, so several processes can listen on one port (Bun; Deno on
   * Linux with --unstable-net; Node >= 22.12). Where missing, listen() throws
   * `ERR_REUSE_PORT_UNSUPPORTED`; on Node 20 use `workers()` (node:cluster).
   */
  reusePort?: boolean;
  backlog?: number;
  /**
   * Grow the process's descriptor table to this many entries before listening
   * (Linux; see descriptor-table.ts), so that a burst of connections does not
   * stall the event loop each time the kernel doubles the table. Once per
   * process: 0.07–0.22 s for 10,256 on the test VM. Default 0 (off).
   */
  reserveDescriptors?: number;
}

export interface ConnectOptions extends CommonOptions {
  port: number;
  /** Default "127.0.0.1". */
  hostname?: string;
  tls?: ClientTlsOptions | true;
}

export interface CloseOptions {
  /**
   * Milliseconds to wait for open connections to finish on their own after
   * accepting stops. When it passes, the rest are destroyed with
   * `ERR_SHUTDOWN_DEADLINE`. Default 0: destroy at once.
   */
  deadline?: number;
}

export interface Listener {
  readonly adapter: AdapterName;
  readonly port: number;
  readonly address: string;
  /** Connections open now. */
  readonly connections: number;
  /** Connections accepted since listen. */
  readonly accepted: number;
  /** Connections closed at once because `maxConnections` was reached. */
  readonly rejected: number;
  readonly wheel: TimerWheel;
  /**
   * Calls `fn` for every open connection (in accept order). A connection closed by `fn` is
   * skipped if not reached yet; one accepted meanwhile may or may not be visited.
   */
  forEachConnection(fn: (conn: Connection<unknown>) => void): void;
  /** Stops accepting; resolves with the number of connections force-closed at the deadline. */
  close(options?: CloseOptions): Promise<number>;
}

/** What a runtime adapter provides. */
export interface Adapter {
  readonly name: AdapterName;
  listen<S>(options: ListenOptions, handlers: Handlers<S>): Promise<Listener>;
  connect<S>(options: ConnectOptions, handlers: Handlers<S>): Promise<Connection<S>>;
}
