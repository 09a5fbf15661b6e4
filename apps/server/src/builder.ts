/**
 * The imperative settings.js style: `export default function (server) {…}`
 * calls these methods; {@link ConfigBuilder.toConfig} gives the same plain
 * {@link Config} the object style exports, so both go through one validator.
 */
import type {
  CgiMapping,
  Config,
  ListenerConfig,
  PubSubConfig,
  ScriptLimits,
  ServerLimits,
  SiteConfig,
  StatusConfig,
} from "./config.ts";

export class SiteBuilder {
  /** @internal */
  readonly config: SiteConfig;

  constructor(
    readonly name: string,
    options: SiteConfig,
  ) {
    this.config = { ...options };
  }

  addHostname(...names: string[]): this {
    (this.config.hosts ??= []).push(...names);
    return this;
  }
  addAlias(...names: string[]): this {
    (this.config.aliases ??= []).push(...names);
    return this;
  }
  addWebsocket(path: string, script: string): this {
    (this.config.websockets ??= {})[path] = script;
    return this;
  }
  addPath(path: string, file: string): this {
    (this.config.paths ??= {})[path] = file;
    return this;
  }
  addRedirect(from: string, to: string, status?: number): this {
    (this.config.redirects ??= {})[from] = status === undefined ? to : { to, status };
    return this;
  }
  setStatusPage(status: number | string, file: string): this {
    (this.config.statusPages ??= {})[String(status)] = file;
    return this;
  }
  setHeader(name: string, value: string | null): this {
    (this.config.headers ??= {})[name] = value;
    return this;
  }
  setMime(extension: string, type: string): this {
    (this.config.mime ??= {})[extension] = type;
    return this;
  }
  addCgi(mapping: CgiMapping): this {
    const cur = this.config.cgi;
    this.config.cgi = cur === undefined ? [mapping] : [...(Array.isArray(cur) ? cur : [cur]), mapping];
    return this;
  }
  allowFetch(...origins: string[]): this {
    (this.config.fetch ??= []).push(...origins);
    return this;
  }
  setLimits(limits: ScriptLimits): this {
    this.config.limits = { ...this.config.limits, ...limits };
    return this;
  }
  setCache(cache: NonNullable<SiteConfig["cache"]>): this {
    this.config.cache = { ...this.config.cache, ...cache };
    return this;
  }
}

export class ConfigBuilder {
  private readonly listeners: ListenerConfig[] = [];
  private readonly sites = new Map<string, SiteBuilder>();
  private defaultSite: string | undefined;
  private workers: number | undefined;
  private limits: ServerLimits | undefined;
  private pubsub: PubSubConfig | undefined;
  private status: string | StatusConfig | undefined;

  addListener(listener: ListenerConfig): this {
    this.listeners.push(listener);
    return this;
  }
  addSite(name: string, options: SiteConfig): SiteBuilder {
    if (this.sites.has(name)) throw new Error(`addSite: a site named "${name}" exists already`);
    const site = new SiteBuilder(name, options);
    this.sites.set(name, site);
    return site;
  }
  setDefaultSite(site: SiteBuilder | string): this {
    this.defaultSite = typeof site === "string" ? site : site.name;
    return this;
  }
  setWorkers(count: number): this {
    this.workers = count;
    return this;
  }
  /** Topics and websocket-script broadcasts across instances: `{ redis: "redis://127.0.0.1:6379" }`. */
  setPubSub(pubsub: PubSubConfig): this {
    this.pubsub = pubsub;
    return this;
  }
  /** The JSON status endpoint: `setStatus("/.status")` (loopback clients) or `setStatus({ path, allow })`. */
  setStatus(status: string | StatusConfig): this {
    this.status = status;
    return this;
  }
  setLimits(limits: ServerLimits): this {
    this.limits = { ...this.limits, ...limits };
    return this;
  }

  toConfig(): Config {
    const config: Config = {};
    if (this.listeners.length) config.listeners = this.listeners;
    if (this.sites.size) config.sites = Object.fromEntries([...this.sites].map(([n, s]) => [n, s.config]));
    if (this.defaultSite !== undefined) config.defaultSite = this.defaultSite;
    if (this.workers !== undefined) config.workers = this.workers;
    if (this.limits !== undefined) config.limits = this.limits;
    if (this.pubsub !== undefined) config.pubsub = this.pubsub;
    if (this.status !== undefined) config.status = this.status;
    return config;
  }
}
