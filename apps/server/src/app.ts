/**
 * The running app: listeners, HTTP and WebSockets through @wirehouse/server
 * (permessage-deflate offered, pings every 30 s), Host-header dispatch to
 * {@link SiteRuntime}s, the access log, pub/sub across instances, and reload
 * (new sites swapped in; established connections keep their old site until
 * they end).
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import type { ServerRequest, Server as WirehouseServer, WebSocket as WirehouseSocket } from "@wirehouse/server";
import type { ResolvedConfig } from "./config.ts";
import { createPubSub, type RelayedPubSub } from "./pubsub.ts";
import {
  type Logger,
  type ScriptTopics,
  SiteRuntime,
  type SocketPeer,
  type SocketSession,
  scriptTopic,
} from "./site.ts";
import { type AppStatus, addressAllowed, redactUrl, runtimeName, type TopicStatus, VERSION, within } from "./status.ts";

export interface AppOptions {
  /** Access-log and message sink (default: stdout / stderr). */
  log?: (line: string) => void;
  /** Keep page/websocket storage in memory (the embedded default site). */
  persistStorage?: boolean;
  /** Overrides config.dev. */
  dev?: boolean;
  /**
   * @deprecated @wirehouse/server is the only engine (the node:http + ws one is
   * gone); accepted and ignored so that existing callers keep compiling.
   */
  engine?: "wirehouse";
  /** Bind with SO_REUSEPORT (worker processes on Bun and Deno). */
  reusePort?: boolean;
  /**
   * The in-host relay's address (`host:port/token`) in a `--workers` process (the
   * primary runs the relay). Ignored when config.pubsub.redis is set (Redis wins).
   */
  relay?: string;
  /** This process's `--workers` index (for the status). */
  worker?: number;
}

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
  private readonly retired = new Set<SiteRuntime>();
  private wirehouse: WirehouseServer | undefined;
  /** The cross-instance adapter (Redis or the in-host relay), when configured. */
  pubsub: RelayedPubSub | undefined;
  private readonly peers = new WeakMap<SocketPeer, WirehouseSocket<unknown>>();
  private topics: ScriptTopics | undefined;
  /** Local websocket clients per server topic (for the status). */
  private readonly clientCounts = new Map<string, number>();
  private readonly startedAt = Date.now();
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
    // Websocket scripts' broadcast = a publish on the script's topic (carried by the adapter, if any).
    this.topics = {
      publish: (topic, data, except) => {
        const server = this.wirehouse;
        if (!server) return;
        const ws = except ? this.peers.get(except) : undefined;
        // ws.publish: every subscriber but `except`, here and on the other instances.
        if (ws && ws.readyState === 1) ws.publish(topic, data);
        else server.publish(topic, data);
      },
    };
    this.table = await this.buildTable(this.config);
    return this.startServer();
  }

  /** The sites on @wirehouse/server: one fallback route, one websocket route per configured path. */
  private async startServer(): Promise<BoundListener[]> {
    const { createServer } = await import("@wirehouse/server");
    const limits = this.config.limits;
    this.pubsub = await createPubSub({
      redis: this.config.pubsub.redis,
      relay: this.options.relay,
      log: (level, message) => this.logger(level, `pubsub: ${message}`),
      perClient: true,
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
      topics?: string[];
    };
    const serveSite = async (req: ServerRequest) => {
      const status = this.config.status;
      if (status && req.path === status.path) return this.statusResponse(req, status.allow);
      const headers: Record<string, string> = {};
      for (const [k, v] of req.headers) {
        const lower = k.toLowerCase();
        headers[lower] = headers[lower] === undefined ? v : `${headers[lower]}, ${v}`;
      }
      const r = await this.siteFor(req.host).handle({
        method: req.method,
        url: originForm(req.url),
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
            return {
              accept: true,
              data: { site, info: { url: originForm(req.url), headers, remoteAddress: req.remoteAddress } },
            };
          },
          open: (ws) => {
            const { site, info } = ws.data;
            const route = site.socketRoute(new URL(info.url, "http://x").pathname);
            const peer: SocketPeer = {
              send: (d) => void ws.send(d),
              close: (code, reason) => ws.close(code, reason),
              subscribe: (topic) => {
                ws.subscribe(topic);
                (ws.data.topics ??= []).push(topic);
                this.clientCounts.set(topic, (this.clientCounts.get(topic) ?? 0) + 1);
                this.pubsub?.clientJoined(topic);
              },
            };
            this.peers.set(peer, ws as WirehouseSocket<unknown>);
            ws.data.session = route?.open(peer, info);
          },
          // A plain request to a websocket path: the site answers (a websocket script's onRequest).
          request: serveSite,
          message: (ws, data) => ws.data.session?.message(data),
          close: (ws, code, reason) => {
            ws.data.session?.close(code, reason);
            for (const topic of ws.data.topics ?? []) {
              const n = (this.clientCounts.get(topic) ?? 1) - 1;
              if (n > 0) this.clientCounts.set(topic, n);
              else this.clientCounts.delete(topic);
              this.pubsub?.clientLeft(topic);
            }
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

  /**
   * What the status endpoint shows: connections, each websocket script's clients here
   * and (with Redis) across instances, and the pub/sub adapter's state and counters.
   */
  async status(): Promise<AppStatus> {
    const server = this.wirehouse;
    const p = this.pubsub;
    const redis = p?.redis;
    const relay = p?.relay;
    const pubsub: AppStatus["pubsub"] = !p
      ? { kind: "in-process", connected: true }
      : redis
        ? {
            kind: "redis",
            connected: redis.connected,
            url: redactUrl(this.config.pubsub.redis ?? ""),
            instanceId: redis.instanceId,
            stats: { ...redis.stats },
          }
        : { kind: "relay", connected: relay?.connected ?? false, stats: { ...(relay?.stats ?? {}) } };
    const topics: TopicStatus[] = [];
    for (const site of this.config.sites)
      for (const [path, script] of Object.entries(site.websockets)) {
        if (script.startsWith("@")) continue; // built-ins (echo) have no topic
        const topic = scriptTopic(site.name, path);
        topics.push({
          topic,
          site: site.name,
          path,
          clients: this.clientCounts.get(topic) ?? 0,
          total: null,
          instances: null,
        });
      }
    // Across instances: Redis presence (live instances' counts), or the in-host relay's.
    const across = redis
      ? async (topic: string) => {
          const by = await within(redis.presence.byInstance(topic), 1000, "Redis presence");
          let total = 0;
          let instances = 0;
          for (const n of by.values())
            if (n > 0) {
              total += n;
              instances++;
            }
          return { total, instances };
        }
      : relay
        ? (topic: string) => within(relay.presence(topic), 1000, "in-host relay presence")
        : undefined;
    if (across)
      await Promise.all(
        topics.map(async (t) => {
          try {
            const { total, instances } = await across(t.topic);
            t.total = total;
            t.instances = instances;
          } catch (e) {
            pubsub.error = (e as Error).message;
          }
        }),
      );
    return {
      wirehouse: VERSION,
      runtime: runtimeName(),
      pid: process.pid,
      worker: this.options.worker ?? null,
      uptimeMs: Date.now() - this.startedAt,
      connections: server?.connections ?? 0,
      websockets: server?.clients ?? 0,
      pubsub,
      topics,
    };
  }

  private async statusResponse(
    req: ServerRequest,
    allow: readonly string[],
  ): Promise<{ status: number; headers: [string, string][]; body: string }> {
    if (!addressAllowed(req.remoteAddress, allow))
      return { status: 404, headers: [["content-type", "text/plain; charset=utf-8"]], body: "404 Not Found\n" };
    return {
      status: 200,
      headers: [
        ["content-type", "application/json; charset=utf-8"],
        ["cache-control", "no-store"],
      ],
      body: `${JSON.stringify(await this.status(), null, 2)}\n`,
    };
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

  /** Stops listening, closes websockets (1001) and idle connections, terminates scripts. */
  async close(): Promise<void> {
    if (this.wirehouse) await this.wirehouse.close({ deadline: 1000 });
    await Promise.all([...(this.table?.sites ?? []), ...this.retired].map((s) => s.close()));
  }
}

function pem(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}

/**
 * A request target in origin-form ("/path?query"), as sites and scripts expect it. An
 * absolute-form target ("http://host:port/path?query", RFC 9112 §3.2.2, which servers must
 * accept) loses its scheme and authority: the server already took the host from it.
 */
export function originForm(target: string): string {
  if (target.startsWith("/")) return target;
  const scheme = target.indexOf("://");
  if (scheme < 0) return target;
  let i = scheme + 3;
  while (i < target.length && target[i] !== "/" && target[i] !== "?") i++;
  const rest = target.slice(i);
  return rest.startsWith("/") ? rest : `/${rest}`;
}
