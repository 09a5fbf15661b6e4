/**
 * The running app: listeners (node:http / node:https, present on Node, Deno
 * and Bun), WebSocket upgrades (the `ws` package, permessage-deflate offered),
 * Host-header dispatch to {@link SiteRuntime}s, the access log, and reload
 * (new sites swapped in; established connections keep their old site until
 * they end).
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { ServerRequest, Server as WirehouseServer, WebSocket as WirehouseSocket } from "@wirehouse/server";
import { WebSocketServer } from "ws";
import type { ResolvedConfig } from "./config.ts";
import { createPubSub, type RelayedPubSub } from "./pubsub.ts";
import {
  type AppRequest,
  type AppResponse,
  type Logger,
  type ScriptTopics,
  SiteRuntime,
  type SocketPeer,
  type SocketSession,
} from "./site.ts";

export interface AppOptions {
  /** Access-log and message sink (default: stdout / stderr). */
  log?: (line: string) => void;
  /** Keep page/websocket storage in memory (the embedded default site). */
  persistStorage?: boolean;
  /** Overrides config.dev. */
  dev?: boolean;
  /**
   * The HTTP/WebSocket layer: "wirehouse" (@wirehouse/server, the default) or
   * "node" (node:http + ws, kept only as a comparison and fallback). See the README.
   */
  engine?: Engine;
  /** Bind with SO_REUSEPORT (worker processes on Bun and Deno; wirehouse engine). */
  reusePort?: boolean;
  /**
   * Relay topics through the parent's IPC channel (a `--workers` process; the
   * primary runs the relay). Ignored when config.pubsub.redis is set (Redis wins).
   */
  ipc?: boolean;
}

export type Engine = "node" | "wirehouse";

interface Table {
  byHost: Map<string, SiteRuntime>;
  fallback: SiteRuntime;
  sites: SiteRuntime[];
}

export interface BoundListener {
  port: number;
  host: string;
  url: string;
}

export class App {
  private config: ResolvedConfig;
  private readonly options: AppOptions;
  private table!: Table;
  private readonly servers: Server[] = [];
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: true, maxPayload: 16 << 20 });
  private readonly retired = new Set<SiteRuntime>();
  private readonly sockets = new Set<Socket>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private wirehouse: WirehouseServer | undefined;
  /** The cross-instance adapter (Redis or IPC relay), when configured (wirehouse engine). */
  pubsub: RelayedPubSub | undefined;
  private readonly peers = new WeakMap<SocketPeer, WirehouseSocket<unknown>>();
  private topics: ScriptTopics | undefined;
  readonly log: (line: string) => void;
  listeners: BoundListener[] = [];

  constructor(config: ResolvedConfig, options: AppOptions = {}) {
    this.config = config;
    this.options = options;
    this.log = options.log ?? ((line) => console.log(line));
  }

  /** The settings file this app was started from (null for the embedded site). */
  get configFile(): string | null {
    const f = this.config.file;
    return f && !f.startsWith("(") ? f : null;
  }

  get dev(): boolean {
    return this.options.dev ?? this.config.dev;
  }

  private logger: Logger = (level, message) => this.log(`${level === "info" ? "" : `${level}: `}${message}`);

  private async buildTable(config: ResolvedConfig): Promise<Table> {
    const sites: SiteRuntime[] = [];
    try {
      for (const s of config.sites) {
        const rt = new SiteRuntime(s, {
          dev: this.dev,
          log: this.logger,
          maxBodySize: config.limits.maxBodySize,
          ...(this.topics ? { topics: this.topics } : {}),
          ...(this.options.persistStorage === false ? { persistStorage: false } : {}),
        });
        sites.push(rt);
        await rt.start();
      }
    } catch (e) {
      await Promise.all(sites.map((s) => s.close()));
      throw e;
    }
    const byHost = new Map<string, SiteRuntime>();
    for (const rt of sites) for (const h of [...rt.config.hosts, ...rt.config.aliases]) byHost.set(h, rt);
    const fallback = sites.find((s) => s.config.name === config.defaultSite) ?? (sites[0] as SiteRuntime);
    return { byHost, fallback, sites };
  }

  /** The site answering `hostHeader` (port stripped, case-insensitive; unknown → default site). */
  siteFor(hostHeader: string | undefined): SiteRuntime {
    const t = this.table;
    if (!hostHeader) return t.fallback;
    let h = hostHeader.toLowerCase();
    if (h.startsWith("[")) h = h.slice(0, h.indexOf("]") + 1);
    else {
      const colon = h.lastIndexOf(":");
      if (colon >= 0) h = h.slice(0, colon);
    }
    if (h.endsWith(".")) h = h.slice(0, -1);
    return t.byHost.get(h) ?? t.fallback;
  }

  async start(): Promise<BoundListener[]> {
    if (this.options.engine !== "node") {
      // Websocket scripts' broadcast = a publish on the script's topic (carried by the adapter, if any).
      this.topics = {
        publish: (topic, data, except) => {
          const server = this.wirehouse;
          if (!server) return;
          const ws = except ? this.peers.get(except) : undefined;
          if (ws && ws.readyState === 1) {
            ws.publish(topic, data); // local subscribers but `except`
            this.pubsub?.publishRemote(topic, data, typeof data !== "string");
          } else server.publish(topic, data);
        },
      };
    }
    this.table = await this.buildTable(this.config);
    if (this.options.engine !== "node") return this.startWirehouse();
    for (const l of this.config.listeners) {
      const server = l.tls
        ? createHttpsServer({ cert: pem(l.tls.cert), key: pem(l.tls.key) }, (req, res) =>
            this.onRequest(req, res, true),
          )
        : createHttpServer((req, res) => this.onRequest(req, res, false));
      server.keepAliveTimeout = this.config.limits.keepAliveTimeoutMs;
      server.maxConnections = this.config.limits.maxConnections;
      server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
      server.on("connection", (s: Socket) => {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
      });
      server.on("clientError", (_e: Error, socket: Socket) => {
        if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        else socket.destroy();
      });
      await new Promise<void>((done, fail) => {
        server.once("error", fail);
        server.listen(l.port, l.host, () => {
          server.off("error", fail);
          done();
        });
      });
      this.servers.push(server);
      const port = (server.address() as AddressInfo).port;
      const shown =
        l.host === "0.0.0.0" || l.host === "::" ? "localhost" : l.host.includes(":") ? `[${l.host}]` : l.host;
      this.listeners.push({ port, host: l.host, url: `${l.tls ? "https" : "http"}://${shown}:${port}/` });
    }
    // Automatic pings: the round trip becomes the script's client.lag.
    this.pingTimer = setInterval(() => {
      for (const ws of this.wss.clients) {
        const w = ws as typeof ws & { pingAt?: number };
        w.pingAt = Date.now();
        try {
          ws.ping();
        } catch {}
      }
    }, 30_000);
    (this.pingTimer as { unref?(): void }).unref?.();
    return this.listeners;
  }

  /** The same sites on @wirehouse/server: one fallback route, one websocket route per configured path. */
  private async startWirehouse(): Promise<BoundListener[]> {
    const { createServer } = await import("@wirehouse/server");
    const limits = this.config.limits;
    this.pubsub = await createPubSub({
      redis: this.config.pubsub.redis,
      ipc: this.options.ipc === true,
      log: (level, message) => this.logger(level, `pubsub: ${message}`),
    });
    const server = createServer({
      ...(this.pubsub ? { pubsub: this.pubsub } : {}),
      limits: {
        maxBodySize: limits.maxBodySize,
        maxConnections: limits.maxConnections,
        keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
      },
      dev: this.dev,
      log: (e) =>
        this.log(`${e.method} ${e.host || "-"} ${e.path} ${e.status} ${e.bytes} ${e.durationMs.toFixed(1)}ms`),
      onError: (e, where) => this.logger("error", `${where}: ${(e as Error)?.stack ?? e}`),
    });
    this.wirehouse = server;
    type Data = {
      site: SiteRuntime;
      session?: SocketSession;
      info: { url: string; headers: Record<string, string>; remoteAddress: string };
    };
    const serveSite = async (req: ServerRequest) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of req.headers) {
        const lower = k.toLowerCase();
        headers[lower] = headers[lower] === undefined ? v : `${headers[lower]}, ${v}`;
      }
      const r = await this.siteFor(req.host).handle({
        method: req.method,
        url: req.url,
        headers,
        host: req.host,
        remoteAddress: req.remoteAddress,
        remotePort: req.remotePort,
        localPort: this.listeners[0]?.port ?? 0,
        https: req.https,
        body: () => req.body(),
      });
      return { status: r.status, headers: r.headers, body: r.body };
    };
    const paths = new Set(this.config.sites.flatMap((s) => Object.keys(s.websockets)));
    for (const path of paths) {
      server.websocket<Data>(
        path,
        {
          upgrade: (req) => {
            const site = this.siteFor(req.host);
            if (!site.socketRoute(req.path)) return { accept: false, status: 404 };
            const headers: Record<string, string> = {};
            for (const [k, v] of req.headers) headers[k.toLowerCase()] = v;
            return { accept: true, data: { site, info: { url: req.url, headers, remoteAddress: req.remoteAddress } } };
          },
          open: (ws) => {
            const { site, info } = ws.data;
            const route = site.socketRoute(new URL(info.url, "http://x").pathname);
            const peer: SocketPeer = {
              send: (d) => void ws.send(d),
              close: (code, reason) => ws.close(code, reason),
              subscribe: (topic) => ws.subscribe(topic),
            };
            this.peers.set(peer, ws as WirehouseSocket<unknown>);
            ws.data.session = route?.open(peer, info);
          },
          // A plain request to a websocket path: the site answers (a websocket script's onRequest).
          request: serveSite,
          message: (ws, data) => ws.data.session?.message(data),
          close: (ws, code, reason) => {
            ws.data.session?.close(code, reason);
            this.retire(ws.data.site);
          },
        },
        { deflate: true, pingInterval: 30 },
      );
    }
    server.fallback(serveSite);
    for (const l of this.config.listeners) {
      const bound = await server.listen({
        port: l.port,
        hostname: l.host,
        ...(this.options.reusePort ? { reusePort: true } : {}),
        ...(l.tls ? { tls: { cert: pem(l.tls.cert), key: pem(l.tls.key) } } : {}),
      });
      const shown =
        l.host === "0.0.0.0" || l.host === "::" ? "localhost" : l.host.includes(":") ? `[${l.host}]` : l.host;
      this.listeners.push({
        port: bound.port,
        host: l.host,
        url: `${l.tls ? "https" : "http"}://${shown}:${bound.port}/`,
      });
    }
    return this.listeners;
  }

  /** Swaps in a new configuration (same listeners); open connections finish on the old sites. */
  async reload(config: ResolvedConfig): Promise<void> {
    const next = await this.buildTable(config);
    const old = this.table;
    this.table = next;
    this.config = { ...config, listeners: this.config.listeners };
    for (const s of old.sites) {
      this.retired.add(s);
      this.retire(s);
    }
  }

  private retire(s: SiteRuntime): void {
    if (!this.retired.has(s) || s.sockets > 0) return;
    this.retired.delete(s);
    void s.close();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, https: boolean): void {
    const started = performance.now();
    const site = this.siteFor(req.headers.host);
    let bytes = 0;
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    res.on("close", () => {
      const ms = (performance.now() - started).toFixed(1);
      this.log(`${req.method} ${req.headers.host ?? "-"} ${path} ${res.statusCode} ${bytes} ${ms}ms`);
    });
    const maxBody = this.config.limits.maxBodySize;
    let bodyPromise: Promise<Uint8Array> | undefined;
    const appReq: AppRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: flatHeaders(req),
      host: req.headers.host ?? "",
      remoteAddress: req.socket.remoteAddress ?? "",
      remotePort: req.socket.remotePort ?? 0,
      localPort: req.socket.localPort ?? 0,
      https,
      body: () => (bodyPromise ??= readBody(req, maxBody)),
    };
    site
      .handle(appReq)
      .then(async (r: AppResponse) => {
        res.statusCode = r.status;
        for (const [k, v] of r.headers) {
          const cur = res.getHeader(k);
          if (cur === undefined) res.setHeader(k, v);
          else res.setHeader(k, Array.isArray(cur) ? [...cur, v] : [String(cur), v]);
        }
        if (r.body === null) return void res.end();
        if (r.body instanceof Uint8Array) {
          bytes = r.body.byteLength;
          return void res.end(r.body);
        }
        for await (const chunk of r.body) {
          bytes += chunk.byteLength;
          if (!res.write(chunk)) await new Promise((d) => res.once("drain", d));
          if (res.destroyed) break;
        }
        res.end();
      })
      .catch((e: Error & { status?: number }) => {
        if (res.headersSent) return void res.destroy();
        const status = e?.status === 413 ? 413 : 500;
        if (status === 500) this.logger("error", `${req.method} ${path}: ${e?.stack ?? e}`);
        res.statusCode = status;
        res.setHeader("content-type", "text/plain; charset=utf-8");
        const body =
          status === 413
            ? "413 Payload Too Large\n"
            : `500 Internal Server Error\n${this.dev ? `\n${e?.stack ?? e}\n` : ""}`;
        bytes = body.length;
        res.end(body);
      });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const started = performance.now();
    const site = this.siteFor(req.headers.host);
    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "/";
    const route = site.socketRoute(path);
    const log = (status: number) =>
      this.log(
        `${req.method} ${req.headers.host ?? "-"} ${path} ${status} 0 ${(performance.now() - started).toFixed(1)}ms`,
      );
    if (!route) {
      log(404);
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      log(101);
      const session = route.open(
        {
          send: (data) => {
            if (ws.readyState === ws.OPEN) ws.send(data, { binary: typeof data !== "string" });
          },
          close: (code, reason) => ws.close(code, reason),
        },
        { url, headers: flatHeaders(req), remoteAddress: req.socket.remoteAddress ?? "" },
      );
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        if (isBinary) session.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        else session.message(data.toString("utf8"));
      });
      ws.on("pong", () => {
        const at = (ws as typeof ws & { pingAt?: number }).pingAt;
        if (at) session.lag(Date.now() - at);
      });
      ws.on("close", (code: number, reason: Buffer) => {
        session.close(code, reason.toString("utf8"));
        this.retire(site);
      });
      ws.on("error", () => {});
    });
  }

  /** Stops listening, closes websockets (1001) and idle connections, terminates scripts. */
  async close(): Promise<void> {
    if (this.wirehouse) await this.wirehouse.close({ deadline: 1000 });
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const ws of this.wss.clients) ws.close(1001, "server shutting down");
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((done) => {
            s.close(() => done());
            (s as Server & { closeIdleConnections?(): void }).closeIdleConnections?.();
          }),
      ),
    );
    for (const s of this.sockets) s.destroy();
    await Promise.all([...(this.table?.sites ?? []), ...this.retired].map((s) => s.close()));
    this.wss.close();
  }
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.destroy();
        fail(Object.assign(new Error("request body too large"), { status: 413 }));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      const all = Buffer.concat(chunks);
      done(new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    });
    req.on("error", fail);
  });
}

function pem(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}
