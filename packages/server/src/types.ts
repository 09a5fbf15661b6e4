/**
 * The public types of @wirehouse/server (shape fixed by notes/SERVER-API.md).
 */
import type { AcceptHook, AcceptResult } from "@wirehouse/router";
import type { StaticOptions } from "@wirehouse/static";
import type { JobPoolOptions } from "./jobs.ts";

export type { AcceptHook, AcceptResult };

/** Connection limits; every timeout is driven by the server's timer wheel. */
export interface ServerLimits {
  /** Largest request head in bytes (431 beyond). Default 16 KiB. */
  maxHeadSize?: number;
  /** Largest request body in bytes (413 beyond). Default 1 MiB. */
  maxBodySize?: number;
  /** Time to receive a complete request head (408). Default 10 s. */
  headTimeoutMs?: number;
  /** Time without body bytes while a body is expected (408). Default 30 s. */
  bodyTimeoutMs?: number;
  /** Idle time between keep-alive requests before closing. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /**
   * Open connections (HTTP and WebSocket) the server serves. A connection past this is still read
   * up to its request head, which is answered `503 Service Unavailable` with `Retry-After` and
   * `Connection: close` (an upgrade request too), and counted in `server.rejectedConnections`.
   * Default 10,000.
   */
  maxConnections?: number;
  /**
   * Connections past `maxConnections` that are still read and answered 503; beyond
   * `maxConnections + overflowConnections` the transport closes new connections at once
   * (also counted in `server.rejectedConnections`). Default 256.
   */
  overflowConnections?: number;
  /**
   * On Linux, grow the process's descriptor table to this many entries when listening, so a
   * burst of new connections does not stall the event loop each time the kernel doubles the
   * table (an RCU wait of several milliseconds per doubling; see @wirehouse/transport's
   * `reserveDescriptors`). Done once per process; stays below the open-files limit.
   * Default `maxConnections + overflowConnections`, at most 16,384; 0 turns it off.
   */
  reserveDescriptors?: number;
  /** `Retry-After` (seconds) on 503s for capacity: over `maxConnections`, shutting down, job queue full. Default 5. */
  retryAfterSeconds?: number;
  /**
   * Time an HTTP handler (or an asynchronous accept hook) may take to produce its response
   * (status and headers; streaming the body afterwards is not limited). Past it the request is
   * answered `503 Service Unavailable` with `Connection: close`, the connection is closed after
   * it, `req.signal` is aborted and `onError` is told (where = "http handler timeout"); a late
   * response is ignored. 0 = no limit. Per route: `HttpRouteOptions.timeoutMs`. Default 60 s.
   */
  handlerTimeoutMs?: number;
}

export interface AccessLogEntry {
  time: number;
  remoteAddress: string;
  method: string;
  path: string;
  host: string;
  status: number;
  bytes: number;
  /** From the complete request head to the response written (fractional ms; 0 for a request refused before it was read). */
  durationMs: number;
  site: string | undefined;
}

export interface ServerOptions {
  limits?: ServerLimits;
  log?: (line: AccessLogEntry) => void;
  onError?: (error: unknown, where: string) => void;
  /** Added to every HTTP response (not to 101s). */
  defaultHeaders?: [string, string][];
  /** Development mode: 500 bodies carry the error message. */
  dev?: boolean;
  /** Transport adapter override ("node" | "bun" | "deno"). */
  adapter?: "node" | "bun" | "deno";
  /** Pub/sub adapter (default: in-process). */
  pubsub?: PubSubAdapter;
  /** Options of the worker pool behind `server.jobs` (size, per-job timeout, queue bound). */
  jobs?: JobPoolOptions;
}

export interface TlsOptions {
  cert: string | Uint8Array;
  key: string | Uint8Array;
  sni?: Record<string, { cert: string | Uint8Array; key: string | Uint8Array }>;
}

export interface ListenOptions {
  port: number;
  hostname?: string;
  tls?: TlsOptions;
  reusePort?: boolean;
}

export interface ListenResult {
  port: number;
  hostname: string;
}

export interface SiteOptions {
  name?: string;
  hosts?: string[];
  aliases?: string[];
  default?: boolean;
}

/** Header access on a request: case-insensitive `get` (repeats joined with ", "), iteration as [name, value]. */
export interface RequestHeaders extends Iterable<[string, string]> {
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string): boolean;
}

export interface ServerRequest {
  readonly method: string;
  /** The request target as received. */
  readonly url: string;
  /** The normalised, decoded path. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly rawQuery: string;
  readonly headers: RequestHeaders;
  readonly cookies: Map<string, string>;
  readonly host: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly params: Record<string, string>;
  /** What the route's `*` did not consume ("/" for exact routes). */
  readonly rest: string;
  readonly httpVersion: "1.0" | "1.1";
  readonly https: boolean;
  body(): Promise<Uint8Array>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  bodyStream(): AsyncIterable<Uint8Array>;
  /**
   * Aborted when the request is given up: the handler timed out (`handlerTimeoutMs`), the request
   * was answered with an error (408, 413, …) while its handler ran, or the connection closed before
   * the response was complete. Pass it to fetch() and the like.
   */
  readonly signal: AbortSignal;
}

export type ResponseBody = Uint8Array | string | AsyncIterable<Uint8Array> | null | undefined;

export interface ResponseInit {
  status?: number;
  headers?: Record<string, string> | [string, string][] | ReadonlyArray<readonly [string, string]>;
  body?: ResponseBody;
}

/** A fetch-API `Response` (anything with status, headers.forEach and arrayBuffer()) is accepted too. */
export interface ResponseLike {
  status: number;
  headers: { forEach(cb: (value: string, name: string) => void): void };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type HttpHandler = (
  req: ServerRequest,
) => ResponseInit | ResponseLike | string | Uint8Array | Promise<ResponseInit | ResponseLike | string | Uint8Array>;

export interface HttpRouteOptions {
  accept?: AcceptHook;
  /** Allowed methods (405 with Allow otherwise). Default: any. */
  methods?: string[];
  /** This route's handler time limit in ms (overrides `limits.handlerTimeoutMs`; 0 = none). */
  timeoutMs?: number;
}

export type StaticRouteOptions = StaticOptions;

/** `send` result: 1 written (or queued under the high-water mark), 0 buffered past it (wait for drain), -1 dropped. */
export type SendResult = 1 | 0 | -1;
export const SEND_SENT = 1 as const;
export const SEND_BUFFERED = 0 as const;
export const SEND_DROPPED = -1 as const;

export interface SendOptions {
  binary?: boolean;
  compress?: boolean;
}

/** A message encoded (and compressed) once by `server.prepare`, sendable to any socket without re-encoding. */
export interface PreparedMessage {
  readonly binary: boolean;
  /** The plain frame bytes. */
  readonly frame: Uint8Array;
  /** The compressed frame bytes (for sockets with a context-free deflate session), if compressed. */
  readonly deflated: Uint8Array | undefined;
  readonly payload: Uint8Array;
}

export interface WebSocket<T = unknown> {
  /** User data from the accept hook (or set later). */
  data: T;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes written and not yet handed to the kernel (plus messages waiting for compression). */
  readonly bufferedAmount: number;
  /** The agreed subprotocol ("" if none). */
  readonly protocol: string;
  /** The negotiated extensions header value ("" if none). */
  readonly extensions: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed (like the browser API). */
  readonly readyState: number;
  send(data: string | Uint8Array | ArrayBuffer | PreparedMessage, options?: SendOptions | boolean): SendResult;
  ping(data?: string | Uint8Array): void;
  pong(data?: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  readonly topics: ReadonlySet<string>;
  /**
   * Publishes to every subscriber of `topic` except this socket: here at once, and on the other
   * instances through the server's pub/sub adapter, if it has one.
   */
  publish(topic: string, data: string | Uint8Array, options?: SendOptions): void;
  pause(): void;
  resume(): void;
}

export interface UpgradeRequest extends ServerRequest {
  readonly origin: string | null;
  readonly offeredProtocols: readonly string[];
}

export interface WebSocketHandler<T = unknown> {
  /** The accept hook: return `{ accept: true, data?, headers?, protocol? }` or `{ accept: false, status }`. */
  upgrade?(req: UpgradeRequest): AcceptResult<T> | Promise<AcceptResult<T>> | undefined;
  open?(ws: WebSocket<T>): unknown;
  message?(ws: WebSocket<T>, data: string | Uint8Array, isBinary: boolean): unknown;
  drain?(ws: WebSocket<T>): void;
  ping?(ws: WebSocket<T>, data: Uint8Array): void;
  pong?(ws: WebSocket<T>, data: Uint8Array): void;
  close?(ws: WebSocket<T>, code: number, reason: string): void;
  /** A message refused over `maxBackpressure`. */
  dropped?(ws: WebSocket<T>, data: string | Uint8Array | PreparedMessage): void;
  /**
   * A plain HTTP request (no upgrade) to this endpoint's path, e.g. to redirect a browser to
   * the page that opens the socket. Without it such a request gets 426 Upgrade Required.
   */
  request?: HttpHandler;
}

export interface DeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
  /** Messages smaller than this are sent uncompressed. Default 1024. */
  threshold?: number;
  level?: number;
  memLevel?: number;
  /** At most this many compressions/inflations of this endpoint run at once (the rest wait, in order). Default: no cap. */
  maxConcurrency?: number;
}

export interface WebSocketOptions {
  /** Largest message (1009 beyond). Default 16 MiB. */
  maxPayload?: number;
  /** Seconds without any received data before closing (1001). 0 = off. Default 120. */
  idleTimeout?: number;
  /** Also reset the idle timer on send. Default false. */
  resetIdleOnSend?: boolean;
  /** Seconds after which the socket is closed regardless (0 = off). */
  maxLifetime?: number;
  /** Send a ping after this many seconds without received data (0 = off); close 1011 if no pong arrives within `pongTimeout`. */
  pingInterval?: number;
  /** Seconds to wait for a pong after an automatic ping. Default 10. */
  pongTimeout?: number;
  /**
   * Answer every received ping with a pong automatically (RFC 6455 5.5.2). Default true. With false
   * the `ping` handler decides, and answers with `ws.pong(data)` (a test can play a peer that never does).
   */
  autoPong?: boolean;
  /** Bytes buffered beyond which `send` drops (returns -1). Default 16 MiB. */
  maxBackpressure?: number;
  /** Close (1008) instead of dropping when over `maxBackpressure`. Default false. */
  closeOnBackpressureLimit?: boolean;
  /** permessage-deflate: false (default), true, or options. */
  deflate?: boolean | DeflateOptions;
  /** Outgoing messages larger than this are fragmented. Default: never. */
  maxFrameSize?: number;
  /** Subprotocols in preference order. */
  protocols?: string[];
  /**
   * Allowed origins for browser requests: "*" (any), a list, or a callback.
   * Default: same origin (Origin's host equals Host) or no Origin header.
   */
  origins?: "*" | string[] | ((origin: string, req: ServerRequest) => boolean);
  /** Send ping frames' payload to the handler's ping(); pongs are always answered automatically. */
}

/**
 * The seam to other instances of the same application (processes or machines), e.g.
 * `createRedisPubSub` from @wirehouse/pubsub-redis. The server delivers every publish to its
 * own subscribers itself and hands it to the adapter for the others; the adapter hands the
 * server what the other instances published. Without an adapter the server is the only instance.
 */
export interface PubSubAdapter {
  /**
   * Carry a publish from this instance to the other instances (never back to this one).
   * `compress`: it was published with `{ compress: true }` (an adapter that cannot carry the
   * flag may drop it: the other instances then send the message uncompressed).
   */
  publish(topic: string, data: Uint8Array, binary: boolean, compress?: boolean): void;
  /** Where to hand what the other instances published (with the flag `publish` was given). */
  onMessage(cb: (topic: string, data: Uint8Array, binary: boolean, compress?: boolean) => void): void;
  /** The first subscriber here of `topic`: this instance wants the others' messages on it. */
  subscribe(topic: string): void;
  /** The last subscriber here of `topic` left. */
  unsubscribe(topic: string): void;
  close(): void | Promise<void>;
  /**
   * True for an adapter that also hands this instance's own publishes to `onMessage`. The
   * server refuses such an adapter (TypeError): its local subscribers would get them twice.
   */
  readonly localEcho?: boolean;
}

export interface CloseServerOptions {
  /** Milliseconds to let requests finish and websocket queues drain before destroying. Default 5000. */
  deadline?: number;
}
