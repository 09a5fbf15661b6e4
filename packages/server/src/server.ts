/**
 * The server: sites and routes (@wirehouse/router), listeners (@wirehouse/transport),
 * HTTP handlers, static files (@wirehouse/static), WebSocket endpoints, pub/sub,
 * the event facade and graceful shutdown.
 */
import {
  concatFrame,
  encodeFrame,
  encodeFrameBytes,
  formatExtensionHeader,
  type NegotiatedDeflate,
  Opcode,
  type PerMessageDeflate,
} from "@wirehouse/codec";
import { createPerMessageDeflate } from "@wirehouse/codec/deflate";
import {
  acceptWebSocket,
  buildErrorResponse,
  findDeflate,
  HttpError,
  negotiateWebSocket,
  perMessageDeflate,
  type RequestHead,
  rejectWebSocket,
  type Sha1,
  sha1 as sha1Js,
  type WebSocketServerOptions,
} from "@wirehouse/handshake";
import { sha1 as sha1Node } from "@wirehouse/handshake/sha1-node";
import { type AcceptHook, type RouteMatch, Router, type Site as RouterSite, runAcceptHook } from "@wirehouse/router";
import { StaticSite } from "@wirehouse/static";
import {
  type Connection,
  type Listener,
  TimerWheel,
  listen as transportListen,
  runtime as transportRuntime,
} from "@wirehouse/transport";
import { HttpConnection } from "./connection.ts";
import { JobPool, JobQueueFullError } from "./jobs.ts";
import { Limiter } from "./limiter.ts";
import { handleUpgrade, type NodeRequest, type NodeSocket } from "./node-upgrade.ts";
import type { BodySource, Request } from "./request.ts";
import type {
  AccessLogEntry,
  CloseServerOptions,
  DeflateOptions,
  HttpHandler,
  HttpRouteOptions,
  ListenOptions,
  ListenResult,
  PreparedMessage,
  PubSubAdapter,
  ResponseInit,
  SendOptions,
  SendResult,
  ServerOptions,
  ServerRequest,
  SiteOptions,
  StaticRouteOptions,
  UpgradeRequest,
  WebSocket,
  WebSocketHandler,
  WebSocketOptions,
} from "./types.ts";
import { type ResolvedWsOptions, type SocketOwner, type WsEndpoint, WsSocket } from "./websocket.ts";

const encoder = new TextEncoder();

/**
 * SHA-1 of the accept key. On Bun, `Bun.SHA1.hash` into one reused 20-byte buffer (the handshake
 * code base64-encodes the digest at once): node:crypto's createHash made a Hash object, a native
 * context freed only by the collector and a digest buffer per handshake, which showed in memory
 * per idle connection, and took 0.6 us against 0.16 us.
 */
function bunSha1(): Sha1 | null {
  const hasher = (globalThis as { Bun?: { SHA1?: { hash?(data: Uint8Array, into: Uint8Array): Uint8Array } } }).Bun
    ?.SHA1;
  if (typeof hasher?.hash !== "function") return null;
  const digest = new Uint8Array(20);
  return (data: Uint8Array): Uint8Array => {
    hasher.hash!(data, digest);
    return digest;
  };
}
/**
 * On Node, SHA-1 through node:crypto (`sha1-node`: the one-shot `crypto.hash`), native from the
 * first call. The JavaScript SHA-1 is a little faster once optimized, but a new server runs it
 * unoptimized for its first thousand or so handshakes at ~28 µs each (measured: 28 ms for the
 * first 1,000 calls in a fresh process, 2.5 ms native), most of a connection's cost while a freshly
 * started server takes its first wave of clients.
 */
const sha1: Sha1 =
  transportRuntime === "bun" ? (bunSha1() ?? sha1Node) : transportRuntime === "node" ? sha1Node : sha1Js;

interface HttpKind {
  readonly type: "http";
  readonly handler: HttpHandler;
  readonly methods: ReadonlySet<string> | null;
  readonly allow: string;
  /** The route's handler time limit (undefined: the server's `handlerTimeoutMs`). */
  readonly timeoutMs: number | undefined;
}
interface StaticKind {
  readonly type: "static";
  readonly site: StaticSite;
  readonly mount: string;
}
export interface WsKind {
  readonly type: "ws";
  readonly handler: WebSocketHandler<unknown>;
  readonly options: ResolvedWsOptions;
  readonly deflate: DeflateOptions | null;
  readonly origins: WebSocketOptions["origins"];
  /** What `negotiateWebSocket` is given for this endpoint, built once rather than per handshake. */
  readonly negotiate: WebSocketServerOptions;
}
type Kind = HttpKind | StaticKind | WsKind;

export interface ResolvedLimits {
  maxHeadSize: number;
  maxBodySize: number;
  headTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  overflowConnections: number;
  reserveDescriptors: number;
  retryAfterSeconds: number;
  handlerTimeoutMs: number;
}

export function resolveWsOptions(o: WebSocketOptions = {}): WsKind["options"] {
  return {
    maxPayload: o.maxPayload ?? 16 * 1024 * 1024,
    idleTimeoutMs: (o.idleTimeout ?? 120) * 1000,
    resetIdleOnSend: o.resetIdleOnSend ?? false,
    maxLifetimeMs: (o.maxLifetime ?? 0) * 1000,
    pingIntervalMs: (o.pingInterval ?? 0) * 1000,
    pongTimeoutMs: (o.pongTimeout ?? 10) * 1000,
    autoPong: o.autoPong ?? true,
    maxBackpressure: o.maxBackpressure ?? DEFAULT_MAX_BACKPRESSURE,
    closeOnBackpressureLimit: o.closeOnBackpressureLimit ?? false,
    maxFrameSize: o.maxFrameSize ?? 0,
    highWaterMark: 1024 * 1024,
  };
}

const DEFAULT_MAX_BACKPRESSURE = 16 * 1024 * 1024;
/** What the transport lets wait past the largest endpoint's maxBackpressure (see allowBackpressure). */
const TRANSPORT_SLACK = 16 * 1024 * 1024;

function wsKind(handler: WebSocketHandler<unknown>, o: WebSocketOptions = {}): WsKind {
  const deflate = o.deflate === true ? {} : o.deflate ? o.deflate : null;
  const options = resolveWsOptions(o);
  if (deflate?.maxConcurrency !== undefined && deflate.maxConcurrency > 0)
    options.zlib = new Limiter(deflate.maxConcurrency);
  return {
    type: "ws",
    handler,
    options,
    deflate,
    origins: o.origins,
    negotiate: { protocols: o.protocols, extensions: deflate ? [perMessageDeflate(deflate)] : [], sha1 },
  };
}

/** `acceptWebSocket`'s options when the accept hook added nothing (the usual case), built once. */
const ACCEPT_PLAIN = { sha1 } as const;

/** A site: a set of host names with routes. */
export class Site {
  constructor(
    private readonly server: Server,
    /** @internal */ readonly inner: RouterSite<Kind>,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  /** Serves a directory under `prefix` ("/" or "/assets/*" or "/assets"). */
  static(prefix: string, options: StaticRouteOptions): this {
    let mount = prefix.endsWith("/*") ? prefix.slice(0, -2) : prefix;
    if (mount.endsWith("/")) mount = mount.slice(0, -1);
    const site = new StaticSite(options);
    this.server.statics.push(site);
    this.inner.add(`${mount}/*`, { type: "static", site, mount });
    return this;
  }

  http(pattern: string, handler: HttpHandler, options: HttpRouteOptions = {}): this {
    this.inner.add(pattern, httpKind(handler, options), { accept: options.accept });
    return this;
  }

  websocket<T = unknown>(pattern: string, handler: WebSocketHandler<T>, options?: WebSocketOptions): this {
    const kind = wsKind(handler as WebSocketHandler<unknown>, options);
    this.server.allowBackpressure(kind.options.maxBackpressure);
    this.inner.add(pattern, kind);
    return this;
  }

  fallback(handler: HttpHandler, options: HttpRouteOptions = {}): this {
    this.inner.setFallback(httpKind(handler, options), { accept: options.accept });
    return this;
  }
}

function httpKind(handler: HttpHandler, options: HttpRouteOptions): HttpKind {
  const methods = options.methods ? new Set(options.methods.map((m) => m.toUpperCase())) : null;
  if (methods?.has("GET")) methods.add("HEAD");
  return {
    type: "http",
    handler,
    methods,
    allow: methods ? [...methods].join(", ") : "",
    timeoutMs: options.timeoutMs,
  };
}

type EventName = "connection" | "message" | "close" | "drain" | "error";

/** The server. Create with `createServer(options)`. */
export class Server implements SocketOwner {
  readonly wheel = new TimerWheel({ tickMs: 50 });
  readonly limits: ResolvedLimits;
  readonly headLimits: { maxHeadSize: number };
  readonly defaultHeaders: [string, string][];
  readonly router = new Router<Kind>();
  /** @internal */ readonly statics: StaticSite[] = [];
  private readonly listeners: Listener[] = [];
  /** The largest `maxBackpressure` of the endpoints (see allowBackpressure). */
  private largestBackpressure = DEFAULT_MAX_BACKPRESSURE;
  private readonly conns = new Set<HttpConnection>();
  /**
   * Open WebSockets. Those on the server's own listeners are found through their transport
   * connections (`conn.state` is the socket after the upgrade): no set entry per socket
   * (memory per idle connection). Sockets on adopted connections (handleUpgrade) are kept here.
   */
  private socketCount = 0;
  private readonly adoptedSockets = new Set<WsSocket>();
  private readonly adoptedConns = new WeakSet<HttpConnection>();
  /** What the sockets of each endpoint share (owner, handler, options): one object per endpoint. */
  private readonly endpoints = new Map<WsKind, WsEndpoint>();
  private readonly topics = new Map<string, Set<WsSocket>>();
  /** Carries publishes to and from other instances (none: this process is the only one). */
  private readonly pubsub: PubSubAdapter | null;
  private implicitSite: Site | null = null;
  private jobPool: JobPool | null = null;
  private readonly events = new Map<EventName, ((...args: never[]) => void)[]>();
  private eventKind: WsKind | null = null;
  /** Open connections over `maxConnections` (each waiting for its request head, to answer 503). */
  private overLimitOpen = 0;
  /** Connections refused over `maxConnections` by this server (the transport counts those past the overflow). */
  private refused = 0;
  /** @internal `503 Service Unavailable` with Retry-After and Connection: close (capacity: limit, shutdown). */
  readonly unavailable: Uint8Array;
  closing = false;

  constructor(readonly options: ServerOptions = {}) {
    const l = options.limits ?? {};
    const maxConnections = l.maxConnections ?? 10_000;
    const overflowConnections = l.overflowConnections ?? 256;
    this.limits = {
      maxHeadSize: l.maxHeadSize ?? 16 * 1024,
      maxBodySize: l.maxBodySize ?? 1024 * 1024,
      headTimeoutMs: l.headTimeoutMs ?? 10_000,
      bodyTimeoutMs: l.bodyTimeoutMs ?? 30_000,
      keepAliveTimeoutMs: l.keepAliveTimeoutMs ?? 5_000,
      maxConnections,
      overflowConnections,
      reserveDescriptors: l.reserveDescriptors ?? Math.min(maxConnections + overflowConnections, 16_384),
      retryAfterSeconds: l.retryAfterSeconds ?? 5,
      handlerTimeoutMs: l.handlerTimeoutMs ?? 60_000,
    };
    this.unavailable = buildErrorResponse(503, "Service Unavailable", [
      ["Retry-After", String(this.limits.retryAfterSeconds)],
    ]);
    this.headLimits = { maxHeadSize: this.limits.maxHeadSize };
    this.defaultHeaders = options.defaultHeaders ?? [];
    this.pubsub = options.pubsub ?? null;
    if (this.pubsub?.localEcho === true) {
      // It would hand our own publishes back, and every local subscriber would get them twice.
      throw new TypeError(
        "createServer: the pub/sub adapter echoes this instance's own publishes (localEcho); the server delivers them to its local subscribers itself, so create the adapter without localEcho",
      );
    }
    // Messages from the other instances, for the subscribers here.
    this.pubsub?.onMessage((topic, data, binary, compress) =>
      this.deliver(topic, data, binary, null, compress === true),
    );
  }

  // ---- configuration -------------------------------------------------------------------

  addSite(options: SiteOptions = {}): Site {
    const inner = this.router.addSite({
      name: options.name,
      hosts: options.hosts,
      aliases: options.aliases,
      default: options.default,
    });
    const site = new Site(this, inner);
    if (options.default) this.implicitSite = site;
    return site;
  }

  setDefaultSite(site: Site): void {
    this.router.setDefault(site.inner);
    this.implicitSite = site;
  }

  /** The default site (created on first use) that the server-level shorthands add to. */
  get defaultSite(): Site {
    if (this.implicitSite === null) {
      this.implicitSite = this.addSite({ name: "default", default: true });
    }
    return this.implicitSite;
  }

  http(pattern: string, handler: HttpHandler, options?: HttpRouteOptions): this {
    this.defaultSite.http(pattern, handler, options);
    return this;
  }
  websocket<T = unknown>(pattern: string, handler: WebSocketHandler<T>, options?: WebSocketOptions): this {
    this.defaultSite.websocket(pattern, handler, options);
    return this;
  }
  static(prefix: string, options: StaticRouteOptions): this {
    this.defaultSite.static(prefix, options);
    return this;
  }
  fallback(handler: HttpHandler, options?: HttpRouteOptions): this {
    this.defaultSite.fallback(handler, options);
    return this;
  }

  /** The worker-thread pool for CPU-bound jobs (created on first use). */
  get jobs(): JobPool {
    if (this.jobPool === null) this.jobPool = new JobPool(this.options.jobs);
    return this.jobPool;
  }

  // ---- listening -----------------------------------------------------------------------

  /**
   * @internal An endpoint may queue `maxBackpressure` bytes per socket. The transport destroys a
   * connection with more than its `maxBufferedAmount` waiting (a peer that does not read), so
   * that limit is set at listen to the largest endpoint's allowance plus 16 MiB (control frames,
   * HTTP answers): a socket is then refused sends (`dropped`) before the transport steps in. It
   * is fixed once listening, so an endpoint that would need more is refused then.
   */
  allowBackpressure(bytes: number): void {
    if (bytes <= this.largestBackpressure) return;
    if (this.listeners.length > 0) {
      throw new RangeError(
        `maxBackpressure ${bytes} is over ${this.largestBackpressure}, the largest this server allowed when it started listening: add the endpoint before listen()`,
      );
    }
    this.largestBackpressure = bytes;
  }

  async listen(options: ListenOptions): Promise<ListenResult> {
    if (this.implicitSite === null && this.router.sites().length === 0) void this.defaultSite;
    const https = options.tls !== undefined;
    // Deno's and Node's (plain TCP) adapters read into reused memory: keep nothing of a chunk without copying it.
    const copy = (this.options.adapter ?? transportRuntime) !== "bun";
    // After an upgrade conn.state is the WsSocket itself: the HttpConnection is dropped (memory per idle socket).
    const listener = await transportListen<HttpConnection | WsSocket>(
      {
        port: options.port,
        hostname: options.hostname ?? "127.0.0.1",
        tls: options.tls,
        reusePort: options.reusePort,
        maxBufferedAmount: this.largestBackpressure + TRANSPORT_SLACK,
        // Past maxConnections connections are still read and answered 503 (see open); past the
        // overflow as well the transport closes them at once.
        maxConnections: this.limits.maxConnections + this.limits.overflowConnections,
        reserveDescriptors: this.limits.reserveDescriptors,
        wheel: this.wheel,
        adapter: this.options.adapter,
      },
      {
        open: (conn) => {
          const c = new HttpConnection(this, conn as Connection<unknown>, https, copy, this.admitOverLimit());
          conn.state = c;
          this.conns.add(c);
        },
        data: (conn, bytes) => {
          const s = conn.state;
          if (s instanceof WsSocket) s.receive(bytes, copy);
          else (s as HttpConnection).data(bytes);
        },
        drain: (conn) => {
          const s = conn.state;
          if (s instanceof WsSocket) s.drained();
          else (s as HttpConnection).drain();
        },
        close: (conn) => {
          const s = conn.state;
          if (s instanceof WsSocket) s.finish();
          else {
            this.conns.delete(s as HttpConnection);
            if ((s as HttpConnection).overLimit) this.overLimitOpen--;
            (s as HttpConnection).closed();
          }
        },
      },
    );
    this.listeners.push(listener);
    return { port: listener.port, hostname: listener.address };
  }

  /** Open TCP connections (HTTP and WebSocket), including those over the limit waiting for their 503. */
  get connections(): number {
    return this.conns.size + this.socketCount;
  }
  /**
   * Connections refused since the server started because `maxConnections` was reached: answered
   * 503 (or closed quietly if no request head came), plus those the transport closed at once
   * past `maxConnections + overflowConnections`.
   */
  get rejectedConnections(): number {
    let n = this.refused;
    for (const l of this.listeners) n += l.rejected;
    return n;
  }

  /** A new connection: true (and counted) if it is over `maxConnections`. */
  private admitOverLimit(): boolean {
    if (this.conns.size - this.overLimitOpen + this.socketCount < this.limits.maxConnections) return false;
    this.overLimitOpen++;
    this.refused++;
    return true;
  }
  /** Open WebSockets. */
  get clients(): number {
    return this.socketCount;
  }

  /**
   * Calls `fn` for every open WebSocket: those on the listeners (found through their connections)
   * and the adopted ones. `fn` may close sockets as it goes (both walks allow it).
   */
  private forEachSocket(fn: (ws: WsSocket) => void): void {
    for (const l of this.listeners) {
      l.forEachConnection((conn) => {
        const s = conn.state;
        if (s instanceof WsSocket) fn(s);
      });
    }
    for (const ws of this.adoptedSockets) fn(ws);
  }

  /**
   * Takes over an upgrade request from an existing node:http server (Express, Fastify, Koa):
   * `httpServer.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head))`.
   * Routing, hooks, origins and handlers work as on the server's own listeners.
   */
  handleUpgrade(req: NodeRequest, socket: NodeSocket, head: Uint8Array): void {
    handleUpgrade(this, req, socket, head);
  }

  /** Adopts a connection from another source (node:http upgrade adoption). @internal */
  adopt(conn: Connection<unknown>, https: boolean): HttpConnection {
    const c = new HttpConnection(this, conn, https, false, this.admitOverLimit());
    this.conns.add(c);
    this.adoptedConns.add(c);
    return c;
  }
  /** @internal */
  forget(c: HttpConnection): void {
    if (this.conns.delete(c) && c.overLimit) this.overLimitOpen--;
  }

  // ---- HTTP ----------------------------------------------------------------------------

  /** @internal a complete request (head and body) from a connection. */
  handle(c: HttpConnection, head: RequestHead, body: BodySource | null): void {
    const startedAt = this.logClock();
    if (head.targetForm === "asterisk") {
      // OPTIONS * (RFC 9110 §9.3.7) asks about the server as a whole, not a resource: a no-op
      // answer, in order with the connection's other responses (a body, if any, is read and dropped).
      void c.respond(head, { status: 204 }, startedAt);
      return;
    }
    const req = c.makeRequest(head, body);
    if (req === null) return;
    const m = this.router.match(head.host, req.path);
    if (m === null) {
      void c.respond(head, { status: 404, body: "Not Found" }, startedAt);
      return;
    }
    this.dispatch(c, head, req, m, startedAt);
  }

  private dispatch(c: HttpConnection, head: RequestHead, req: Request, m: RouteMatch<Kind>, startedAt: number): void {
    req.params = m.params as Record<string, string>;
    req.rest = m.rest;
    let kind = m.route.kind;
    if (kind.type === "ws") {
      const request = kind.handler.request;
      if (request === undefined) {
        void c.respond(head, { status: 426, headers: [["Upgrade", "websocket"]], body: "Upgrade Required" }, startedAt);
        return;
      }
      kind = { type: "http", handler: request, methods: null, allow: "", timeoutMs: undefined };
    }
    const hook = m.route.accept;
    if (hook !== undefined) {
      const verdict = runAcceptHook(hook, acceptRequest(req));
      if (verdict instanceof Promise) {
        c.startHandlerTimer(this.timeoutFor(kind));
        verdict.then((v) => {
          if (v.accept) this.run(c, head, req, kind, startedAt);
          else void c.respond(head, { status: v.status, headers: v.headers, body: v.body ?? "" }, startedAt);
        });
        return;
      }
      if (!verdict.accept) {
        void c.respond(head, { status: verdict.status, headers: verdict.headers, body: verdict.body ?? "" }, startedAt);
        return;
      }
    }
    this.run(c, head, req, kind, startedAt);
  }

  private run(
    c: HttpConnection,
    head: RequestHead,
    req: Request,
    kind: HttpKind | StaticKind,
    startedAt: number,
  ): void {
    if (kind.type === "static") {
      let res: ReturnType<StaticSite["serve"]>;
      try {
        res = kind.site.serve({
          method: head.method,
          path: req.rest,
          normalized: true,
          mount: kind.mount,
          query: head.rawQuery,
          headers: head.headers,
        });
      } catch (e) {
        this.fail500(c, head, e, startedAt);
        return;
      }
      if (res instanceof Promise) {
        res.then(
          (r) => c.respond(head, { status: r.status, headers: r.headers, body: r.body }, startedAt),
          (e) => this.fail500(c, head, e, startedAt),
        );
      } else void c.respond(head, { status: res.status, headers: res.headers, body: res.body }, startedAt);
      return;
    }
    if (kind.methods !== null && !kind.methods.has(head.method)) {
      void c.respond(head, { status: 405, headers: [["Allow", kind.allow]], body: "Method Not Allowed" }, startedAt);
      return;
    }
    let out: ReturnType<HttpHandler>;
    try {
      out = kind.handler(req);
    } catch (e) {
      this.fail500(c, head, e, startedAt);
      return;
    }
    if (out instanceof Promise) {
      c.startHandlerTimer(kind.timeoutMs ?? this.limits.handlerTimeoutMs);
      out.then(
        (r) => c.respond(head, r ?? { status: 204 }, startedAt),
        (e) => this.fail500(c, head, e, startedAt),
      );
    } else void c.respond(head, out ?? { status: 204 }, startedAt);
  }

  private timeoutFor(kind: Kind): number {
    return kind.type === "http" && kind.timeoutMs !== undefined ? kind.timeoutMs : this.limits.handlerTimeoutMs;
  }

  private fail500(c: HttpConnection, head: RequestHead, error: unknown, startedAt: number): void {
    this.reportError(error, "http handler");
    if (error instanceof JobQueueFullError) {
      // The worker pool is saturated: a capacity problem, not a bug. The client may retry.
      const headers: [string, string][] = [["Retry-After", String(this.limits.retryAfterSeconds)]];
      void c.respond(head, { status: 503, headers, body: "Service Unavailable" }, startedAt);
      return;
    }
    const body =
      this.options.dev && error instanceof Error
        ? `Internal Server Error\n\n${error.stack ?? error.message}`
        : "Internal Server Error";
    void c.respond(head, { status: 500, body }, startedAt);
  }

  /** @internal */
  reportError(error: unknown, where: string): void {
    if (this.options.onError) {
      try {
        this.options.onError(error, where);
      } catch {
        // never let a logger break the server
      }
    }
  }
  /** @internal */
  onError = (error: unknown, where: string): void => this.reportError(error, where);

  /**
   * When a request started, for the access log's duration: `performance.now()`
   * (the timer wheel's clock moves in 50 ms ticks, which logged 0 or 50 ms for
   * most requests); 0 without a log, which never reads it.
   */
  private logClock(): number {
    return this.options.log === undefined ? 0 : performance.now();
  }

  /** @internal */
  logAccess(head: RequestHead, status: number, bytes: number, remote: Connection<unknown>, startedAt: number): void {
    const log = this.options.log;
    if (log === undefined) return;
    const entry: AccessLogEntry = {
      time: Date.now(),
      remoteAddress: remote.remoteAddress,
      method: head.method,
      path: head.path,
      host: head.host ?? "",
      status,
      bytes,
      durationMs: performance.now() - startedAt,
      site: this.router.site(head.host)?.name,
    };
    try {
      log(entry);
    } catch {
      // ignore
    }
  }

  /** @internal */
  logError(head: RequestHead | null, status: number, remote: Connection<unknown>): void {
    const log = this.options.log;
    if (log === undefined) return;
    try {
      log({
        time: Date.now(),
        remoteAddress: remote.remoteAddress,
        method: head?.method ?? "-",
        path: head?.path ?? "-",
        host: head?.host ?? "",
        status,
        bytes: 0,
        durationMs: 0,
        site: undefined,
      });
    } catch {
      // ignore
    }
  }

  // ---- WebSocket -----------------------------------------------------------------------

  /** @internal an upgrade request (`rest`: bytes after the head, copied). */
  upgrade(c: HttpConnection, head: RequestHead, rest: Uint8Array | null): void {
    const startedAt = this.logClock();
    const req = c.makeRequest(head, null);
    if (req === null) return;
    if (this.closing) {
      this.logError(head, 503, c.conn);
      c.writeRaw(this.unavailable, true);
      return;
    }
    const m = this.router.match(head.host, req.path);
    let kind: WsKind;
    if (m !== null && m.route.kind.type === "ws") {
      kind = m.route.kind;
      req.params = m.params as Record<string, string>;
      req.rest = m.rest;
    } else if (this.events.has("connection")) {
      this.eventKind ??= wsKind({});
      kind = this.eventKind;
    } else if (m !== null) {
      this.dispatch(c, head, req, m, startedAt);
      return;
    } else {
      void c.respond(head, { status: 404, body: "Not Found" }, startedAt);
      return;
    }
    const origin = head.origin;
    if (origin !== undefined && !originAllowed(kind.origins, origin, req)) {
      this.logError(head, 403, c.conn);
      c.writeRaw(rejectWebSocket(403, "Forbidden Origin"), true);
      return;
    }
    const up = negotiateWebSocket(head, kind.negotiate);
    if (up instanceof HttpError) {
      c.fail(up);
      return;
    }
    const hook = kind.handler.upgrade;
    if (hook === undefined) {
      this.finishUpgrade(c, kind, up, rest, req, undefined);
      return;
    }
    this.upgradeWithHook(c, head, kind, up, rest, req, hook);
  }

  /**
   * The accept hook's path, in a method of its own: its closures capture these variables, and
   * JavaScriptCore allocates a scope for captured variables on every call of the function that
   * declares them, hook or not.
   */
  private upgradeWithHook(
    c: HttpConnection,
    head: RequestHead,
    kind: WsKind,
    up: Exclude<ReturnType<typeof negotiateWebSocket>, HttpError>,
    rest: Uint8Array | null,
    req: Request,
    hook: NonNullable<WebSocketHandler<unknown>["upgrade"]>,
  ): void {
    const ureq = req as unknown as UpgradeRequest & { offeredProtocols: readonly string[] };
    (ureq as { offeredProtocols: readonly string[] }).offeredProtocols = up.offeredProtocols;
    const verdict = runAcceptHook(
      (() => {
        const r = hook.call(kind.handler, ureq);
        return r ?? { accept: true };
      }) as AcceptHook<unknown>,
      acceptRequest(req),
    );
    const apply = (v: Awaited<typeof verdict>) => {
      if (!v.accept) {
        const body =
          typeof v.body === "string" ? v.body : v.body ? new TextDecoder().decode(v.body) : statusReason(v.status);
        this.logError(head, v.status, c.conn);
        c.writeRaw(rejectWebSocket(v.status, body, v.headers ?? []), true);
        return;
      }
      this.finishUpgrade(c, kind, up, rest, req, v);
    };
    if (verdict instanceof Promise) {
      c.startHandlerTimer(this.limits.handlerTimeoutMs);
      verdict.then(apply);
    } else apply(verdict);
  }

  private finishUpgrade(
    c: HttpConnection,
    kind: WsKind,
    up: Exclude<ReturnType<typeof negotiateWebSocket>, HttpError>,
    rest: Uint8Array | null,
    req: Request,
    v: { headers?: ReadonlyArray<readonly [string, string]>; protocol?: string; data?: unknown } | undefined,
  ): void {
    if (c.conn.closed || c.isClosed) return;
    let bytes: Uint8Array;
    try {
      bytes = acceptWebSocket(up, v === undefined ? ACCEPT_PLAIN : { headers: v.headers, protocol: v.protocol, sha1 });
    } catch (e) {
      this.reportError(e, "websocket accept");
      c.writeRaw(rejectWebSocket(500, "Internal Server Error"), true);
      return;
    }
    const params = findDeflate(up.extensions);
    const deflate = params ? createPerMessageDeflate(params, "server", kind.deflate ?? {}) : undefined;
    const extensions = up.extensions.length > 0 ? formatExtensionHeader(up.extensions.map((e) => e.response)) : "";
    const protocol = v?.protocol ?? up.protocol ?? "";
    let ep = this.endpoints.get(kind);
    if (ep === undefined) {
      ep = { owner: this, handler: kind.handler, options: kind.options };
      this.endpoints.set(kind, ep);
    }
    const ws = new WsSocket(c.conn, ep, "server", v?.data, protocol, extensions, deflate);
    if (params !== undefined) ws.deflateParams = params;
    this.socketCount++;
    if (this.adoptedConns.has(c)) this.adoptedSockets.add(ws);
    c.conn.write(bytes);
    c.upgraded(ws, rest, req);
  }

  // SocketOwner
  socketClosed(ws: WsSocket): void {
    this.socketCount--;
    if (this.adoptedSockets.size > 0) this.adoptedSockets.delete(ws);
  }
  subscribe(ws: WsSocket, topic: string): void {
    let set = this.topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.topics.set(topic, set);
      this.pubsub?.subscribe(topic);
    }
    set.add(ws);
  }
  unsubscribe(ws: WsSocket, topic: string): void {
    const set = this.topics.get(topic);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) {
      this.topics.delete(topic);
      this.pubsub?.unsubscribe(topic);
    }
  }
  publishFrom(ws: WsSocket, topic: string, data: string | Uint8Array, options?: SendOptions): void {
    const binary = options?.binary ?? typeof data !== "string";
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const compress = options?.compress === true;
    this.deliver(topic, bytes, binary, ws, compress);
    this.pubsub?.publish(topic, bytes, binary, compress);
  }
  emitOpen(ws: WsSocket, request: unknown): void {
    this.emit("connection", ws, request);
  }
  emitMessage(ws: WsSocket, data: string | Uint8Array, isBinary: boolean): void {
    this.emit("message", ws, data, isBinary);
  }
  emitClose(ws: WsSocket, code: number, reason: string): void {
    this.emit("close", ws, code, reason);
  }

  /** Writes one encoded frame to every local subscriber of `topic` (except `except`). */
  private deliver(topic: string, data: Uint8Array, binary: boolean, except: WsSocket | null, compress = false): void {
    const set = this.topics.get(topic);
    if (set === undefined || set.size === 0) return;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    let plain: Uint8Array | null = null;
    let shared: Map<number, Promise<Uint8Array>> | null = null;
    for (const ws of set) {
      if (ws === except) continue;
      const params = ws.deflateParams;
      if (compress && params !== undefined && ws.deflate?.shouldCompress(data.length)) {
        if (params.serverNoContextTakeover) {
          // Without context takeover a compressed message depends only on the window size: compress once per size.
          shared ??= new Map();
          let frame = shared.get(params.serverMaxWindowBits);
          if (frame === undefined) {
            frame = this.compressShared(opcode, data, params.serverMaxWindowBits);
            shared.set(params.serverMaxWindowBits, frame);
          }
          ws.sendFrameLater(frame, data);
        } else ws.send(data, { binary, compress: true }); // its own compression context
        continue;
      }
      plain ??= encodeFrameBytes(opcode, data);
      ws.sendFrame(plain, null);
    }
  }

  private readonly sharedDeflate = new Map<number, PerMessageDeflate>();

  /** @internal one compression of `data` without context takeover, for every socket with that window size */
  compressShared(opcode: number, data: Uint8Array, windowBits: number): Promise<Uint8Array> {
    let z = this.sharedDeflate.get(windowBits);
    if (z === undefined) {
      const params: NegotiatedDeflate = {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: windowBits,
        clientMaxWindowBits: 15,
      };
      z = createPerMessageDeflate(params, "server", { threshold: 0 });
      this.sharedDeflate.set(windowBits, z);
    }
    return z.compress(data).then((c) => concatFrame(encodeFrame(opcode as 1, c, { rsv1: true })));
  }

  /**
   * Sends `data` to every subscriber of `topic`: here the frame is encoded once and the same bytes
   * go to each; the pub/sub adapter, if any, carries it to the other instances.
   */
  publish(topic: string, data: string | Uint8Array, options?: SendOptions | boolean): void {
    const binary = typeof options === "boolean" ? options : (options?.binary ?? typeof data !== "string");
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    // Here at once (compress: once for every subscriber without context takeover, per socket
    // for the others), then to the other instances, whose servers do the same with the flag.
    const compress = typeof options === "object" && options.compress === true;
    this.deliver(topic, bytes, binary, null, compress);
    this.pubsub?.publish(topic, bytes, binary, compress);
  }

  /** Sends `data` to every open WebSocket (one encoding). */
  broadcast(data: string | Uint8Array | PreparedMessage, options?: SendOptions | boolean): void {
    const p = isPrepared(data) ? data : this.prepare(data as string | Uint8Array, options);
    this.forEachSocket((ws) => ws.send(p));
  }

  /** Encodes a message once, for `ws.send(prepared)` to any number of sockets. */
  /**
   * Encodes a message once, for `ws.send(prepared)` to any number of sockets. With `compress: true`
   * it is also compressed once per distinct window size for sockets that agreed
   * `server_no_context_takeover` (on first use, shared by every such socket); sockets with a
   * compression context of their own compress it themselves, sockets without deflate get the plain frame.
   */
  prepare(data: string | Uint8Array, options?: SendOptions | boolean): PreparedMessage {
    const binary = typeof options === "boolean" ? options : (options?.binary ?? typeof data !== "string");
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const frame = encodeFrameBytes(opcode, payload);
    if (typeof options !== "object" || options.compress !== true) {
      return Object.freeze({ binary, frame, payload, deflated: undefined });
    }
    return new CompressedPrepared(binary, frame, payload, (bits) => this.compressShared(opcode, payload, bits));
  }

  // ---- event facade --------------------------------------------------------------------

  on(event: "connection", listener: (ws: WebSocket, req: ServerRequest) => void): this;
  on(event: "message", listener: (ws: WebSocket, data: string | Uint8Array, isBinary: boolean) => void): this;
  on(event: "close", listener: (ws: WebSocket, code: number, reason: string) => void): this;
  on(event: EventName, listener: (...args: never[]) => void): this {
    const list = this.events.get(event);
    if (list) list.push(listener);
    else this.events.set(event, [listener]);
    return this;
  }

  off(event: EventName, listener: (...args: never[]) => void): this {
    const list = this.events.get(event);
    if (list) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.events.delete(event);
    }
    return this;
  }

  private emit(event: EventName, ...args: unknown[]): void {
    const list = this.events.get(event);
    if (list === undefined) return;
    for (const fn of list) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (e) {
        this.reportError(e, `event ${event}`);
      }
    }
  }

  send(socket: WebSocket, message: string | Uint8Array, binary?: boolean): SendResult {
    return socket.send(message, { binary: binary ?? typeof message !== "string" });
  }
  setUserData<T>(socket: WebSocket<T>, data: T): void {
    socket.data = data;
  }
  getUserData<T>(socket: WebSocket<T>): T {
    return socket.data;
  }

  // ---- shutdown ------------------------------------------------------------------------

  /**
   * Stops accepting, lets requests finish, closes WebSockets with 1001 after their
   * queued messages; after `deadline` ms (default 5000) the rest is destroyed.
   * Resolves with the number of connections destroyed.
   */
  async close(options: CloseServerOptions = {}): Promise<number> {
    if (this.closing) return 0;
    this.closing = true;
    const deadline = options.deadline ?? 5000;
    for (const c of [...this.conns]) c.drainForShutdown();
    this.forEachSocket((ws) => ws.close(1001, "server shutting down"));
    const destroyed = await Promise.all(this.listeners.map((l) => l.close({ deadline })));
    // adopted connections (handleUpgrade) are not tracked by a listener
    for (const c of [...this.conns]) c.conn.destroy();
    for (const ws of this.adoptedSockets) ws.conn.destroy();
    for (const s of this.statics) s.close();
    for (const z of this.sharedDeflate.values()) z.close();
    await this.pubsub?.close();
    this.jobPool?.close();
    this.wheel.clear();
    return destroyed.reduce((a, b) => a + b, 0);
  }
}

/** A prepared message sent compressed where the socket agreed permessage-deflate. */
class CompressedPrepared implements PreparedMessage {
  /** The compressed frame for a 15-bit window, once it is ready. */
  deflated: Uint8Array | undefined = undefined;
  private readonly byWindow = new Map<number, Promise<Uint8Array>>();

  constructor(
    readonly binary: boolean,
    readonly frame: Uint8Array,
    readonly payload: Uint8Array,
    private readonly compress: (windowBits: number) => Promise<Uint8Array>,
  ) {}

  /** The compressed frame for sockets without context takeover and this window size (compressed once). */
  compressedFor(windowBits: number): Promise<Uint8Array> {
    let p = this.byWindow.get(windowBits);
    if (p === undefined) {
      p = this.compress(windowBits);
      if (windowBits === 15)
        p.then(
          (f) => {
            this.deflated = f;
          },
          () => {},
        );
      this.byWindow.set(windowBits, p);
    }
    return p;
  }
}

function isPrepared(d: unknown): d is PreparedMessage {
  return typeof d === "object" && d !== null && "frame" in d && "payload" in d;
}

function statusReason(status: number): string {
  return status === 403 ? "Forbidden" : status === 401 ? "Unauthorized" : "Rejected";
}

function acceptRequest(req: Request) {
  const cookies: Record<string, string> = Object.create(null);
  for (const [k, v] of req.cookies) cookies[k] = v;
  return {
    method: req.method,
    path: req.path,
    query: req.rawQuery,
    host: req.host,
    headers: req.headers,
    cookies,
    remoteAddress: req.remoteAddress,
    origin: req.headers.get("origin"),
    params: req.params,
  };
}

/** Same-origin by default: a browser's Origin must name the Host it connected to. */
function originAllowed(rule: WebSocketOptions["origins"], origin: string, req: ServerRequest): boolean {
  if (rule === "*") return true;
  if (Array.isArray(rule)) return rule.includes(origin);
  if (typeof rule === "function") {
    try {
      return rule(origin, req) === true;
    } catch {
      return false;
    }
  }
  if (origin === "null") return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host.toLowerCase() === req.host.toLowerCase();
}

export function createServer(options?: ServerOptions): Server {
  return new Server(options);
}

export type ServerCore = Server;
export type { ResponseInit };
