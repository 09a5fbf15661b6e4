/**
 * The configuration model of the wirehouse app: what settings.js may say
 * ({@link Config}), `defineConfig`, and the one validator that turns either
 * style (object or imperative) into a {@link ResolvedConfig}, or stops with a
 * {@link ConfigError} naming the key path and the file.
 */
import { isAbsolute, resolve } from "node:path";

export interface ListenerConfig {
  /** TCP port (0 = any free port). */
  port: number;
  /** Address to bind (default "0.0.0.0"). */
  host?: string;
  /** PEM certificate and key (file contents or paths). */
  tls?: { cert: string; key: string };
}

/** A CGI/FastCGI mapping, passed to `@wirehouse/cgi`'s `createGateway().site(...)` (root defaults to the site's web/). */
export interface CgiMapping {
  match: string | string[];
  root?: string;
  cgi?: { bin?: string; args?: string[]; env?: Record<string, string> };
  fastcgi?: { address: string; maxConnections?: number };
  index?: string[];
  timeoutMs?: number;
  [key: string]: unknown;
}

export interface SiteConfig {
  /** The site folder: `web/` (static files and page scripts) and `scripts/` (websocket scripts). */
  root: string;
  /** Host names answered by this site. */
  hosts?: string[];
  /** More host names for the same site. */
  aliases?: string[];
  /** Answer unknown hosts (at most one site). */
  default?: boolean;
  /** Index files tried for a directory, in order (default ["index.sjs", "index.html"]). */
  index?: string[];
  /** File extension of page scripts (default ".sjs"). */
  pageExtension?: string;
  /** Websocket scripts by path: "/chat" → "chat.js" (a file in scripts/); "@echo" is the built-in echo. */
  websockets?: Record<string, string>;
  /** Script aliases: a request path served by another file of web/ ("/about" → "/about.sjs"). */
  paths?: Record<string, string>;
  /** Redirects: "/old" → "/new" (302) or { to, status }. A path ending in "/*" redirects a whole prefix. */
  redirects?: Record<string, string | { to: string; status?: number }>;
  /** Custom status pages: "404" → "/errors/404.html" (static or page script, in web/). */
  statusPages?: Record<string, string>;
  /** Response headers added to every response; null removes a safe default. */
  headers?: Record<string, string | null>;
  /** MIME overrides by extension: ".md" → "text/markdown; charset=utf-8". */
  mime?: Record<string, string>;
  /** Static file cache limits. */
  cache?: { maxBytes?: number; maxFileSize?: number; control?: string };
  /** CGI / FastCGI mappings. */
  cgi?: CgiMapping | CgiMapping[];
  /** Origins page and websocket scripts may `fetch` (default none). */
  fetch?: string[];
  /** Script limits for this site. */
  limits?: ScriptLimits;
}

export interface ScriptLimits {
  cpuMs?: number;
  memoryBytes?: number;
}

export interface ServerLimits extends ScriptLimits {
  maxBodySize?: number;
  maxConnections?: number;
  keepAliveTimeoutMs?: number;
}

export interface Config {
  listeners?: ListenerConfig[];
  sites?: Record<string, SiteConfig>;
  /** Host name → site name (another way to give a site its names). */
  hosts?: Record<string, string>;
  /** The site that answers unknown hosts (default: the one marked `default`, else the first). */
  defaultSite?: string;
  workers?: number;
  /** Topics and websocket-script broadcasts across instances (see the README, "Scaling out"). */
  pubsub?: PubSubConfig;
  /** A JSON status endpoint (connections, pub/sub counters and presence): its path, or `{ path, allow }`. Off by default. */
  status?: string | StatusConfig;
  limits?: ServerLimits;
  dev?: boolean;
}

export interface StatusConfig {
  /** The request path that answers the status (on every host). */
  path: string;
  /** Client addresses allowed to read it. Default: loopback only (`["127.0.0.1", "::1"]`). */
  allow?: string[];
}

export interface PubSubConfig {
  /** Redis URL (redis:// or rediss://): relay publishes between processes and machines. */
  redis?: string;
}

/** Identity function that gives settings.js type checking and completion. */
export function defineConfig(config: Config): Config {
  return config;
}

export const SAFE_HEADERS: ReadonlyArray<[string, string]> = [
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "SAMEORIGIN"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
];

export interface ResolvedSite {
  name: string;
  root: string;
  web: string;
  scripts: string;
  hosts: string[];
  aliases: string[];
  default: boolean;
  index: string[];
  pageExtension: string;
  websockets: Record<string, string>;
  paths: Record<string, string>;
  redirects: Record<string, { to: string; status: number }>;
  statusPages: Record<string, string>;
  headers: [string, string][];
  mime: Record<string, string>;
  cache: { maxBytes?: number; maxFileSize?: number; control: string };
  cgi: CgiMapping[];
  fetch: string[];
  limits: { cpuMs: number; memoryBytes: number };
}

export interface ResolvedConfig {
  /** The settings file, or null for the embedded default. */
  file: string | null;
  listeners: { port: number; host: string; tls?: { cert: string; key: string } }[];
  sites: ResolvedSite[];
  defaultSite: string;
  workers: number;
  pubsub: { redis?: string };
  /** The status endpoint, or null (off). */
  status: { path: string; allow: string[] } | null;
  limits: {
    cpuMs: number;
    memoryBytes: number;
    maxBodySize: number;
    maxConnections: number;
    keepAliveTimeoutMs: number;
  };
  dev: boolean;
}

/** A bad settings file: `message` names the file and the key path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly keyPath: string,
    readonly problem: string,
  ) {
    super(`${file}: ${keyPath ? `${keyPath}: ` : ""}${problem}`);
    this.name = "ConfigError";
  }
}

// ---- a small schema walker ----

type Check = (value: unknown, path: string, fail: (path: string, msg: string) => never) => void;

const str: Check = (v, p, fail) => {
  if (typeof v !== "string") fail(p, `expected a string, got ${show(v)}`);
};
const nonEmpty: Check = (v, p, fail) => {
  if (typeof v !== "string" || v === "") fail(p, `expected a non-empty string, got ${show(v)}`);
};
const bool: Check = (v, p, fail) => {
  if (typeof v !== "boolean") fail(p, `expected true or false, got ${show(v)}`);
};
const int =
  (min: number, max: number): Check =>
  (v, p, fail) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      fail(p, `expected an integer from ${min} to ${max}, got ${show(v)}`);
  };
const strings: Check = (v, p, fail) => {
  if (!Array.isArray(v)) fail(p, `expected an array of strings, got ${show(v)}`);
  (v as unknown[]).forEach((x, i) => {
    nonEmpty(x, `${p}[${i}]`, fail);
  });
};
const urlPath: Check = (v, p, fail) => {
  if (typeof v !== "string" || !v.startsWith("/")) fail(p, `expected a path starting with "/", got ${show(v)}`);
};
const record =
  (value: Check, key: Check = urlPath): Check =>
  (v, p, fail) => {
    if (!isPlain(v)) fail(p, `expected an object, got ${show(v)}`);
    for (const [k, x] of Object.entries(v as object)) {
      const kp = `${join(p, k)}`;
      key(k, kp, fail);
      value(x, kp, fail);
    }
  };
const shape =
  (fields: Record<string, Check>, required: string[] = []): Check =>
  (v, p, fail) => {
    if (!isPlain(v)) fail(p, `expected an object, got ${show(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!(k in fields)) {
        const near = nearest(k, Object.keys(fields));
        fail(
          `${join(p, k)}`,
          `unknown key${near ? ` (did you mean "${near}"?)` : ""}; known keys: ${Object.keys(fields).join(", ")}`,
        );
      }
    }
    for (const k of required) if (o[k] === undefined) fail(`${join(p, k)}`, "is required");
    for (const [k, check] of Object.entries(fields)) if (o[k] !== undefined) check(o[k], `${join(p, k)}`, fail);
  };
const oneOf =
  (...checks: Check[]): Check =>
  (v, p, fail) => {
    // Report the alternative that got furthest (the deepest key path).
    let best: ConfigError | undefined;
    for (const c of checks) {
      try {
        c(v, p, (path, msg) => {
          throw new ConfigError("", path, msg);
        });
        return;
      } catch (e) {
        if (!best || (e as ConfigError).keyPath.length > best.keyPath.length) best = e as ConfigError;
      }
    }
    fail((best as ConfigError).keyPath, (best as ConfigError).problem);
  };
const listOf =
  (item: Check): Check =>
  (v, p, fail) => {
    if (!Array.isArray(v)) fail(p, `expected an array, got ${show(v)}`);
    (v as unknown[]).forEach((x, i) => {
      item(x, `${p}[${i}]`, fail);
    });
  };
const headerName: Check = (v, p, fail) => {
  if (typeof v !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v)) fail(p, `not a valid header name`);
};
const headerValue: Check = (v, p, fail) => {
  if (v === null) return;
  if (typeof v !== "string" || /[\r\n\0]/.test(v))
    fail(p, `expected a header value (string without CR/LF/NUL) or null`);
};
const statusKey: Check = (v, p, fail) => {
  if (typeof v !== "string" || !/^[1-5]\d\d$/.test(v)) fail(p, `expected an HTTP status code (100-599)`);
};
const extKey: Check = (v, p, fail) => {
  if (typeof v !== "string" || !/^\.[A-Za-z0-9_+-]+$/.test(v)) fail(p, `expected a file extension like ".md"`);
};
const redirectStatus: Check = (v, p, fail) => {
  if (![301, 302, 303, 307, 308].includes(v as number)) fail(p, `expected 301, 302, 303, 307 or 308, got ${show(v)}`);
};
/** A Redis URL: redis://[user:pass@]host[:port][/db] or rediss://. */
export function checkRedisUrl(v: unknown): string | undefined {
  if (typeof v !== "string") return `expected a Redis URL like "redis://127.0.0.1:6379", got ${show(v)}`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `expected a Redis URL like "redis://127.0.0.1:6379", got ${show(v)}`;
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    return `expected a redis:// or rediss:// URL, got ${show(v)}`;
  if (!u.hostname) return `expected a host in the Redis URL, got ${show(v)}`;
  return undefined;
}
const redisUrl: Check = (v, p, fail) => {
  const problem = checkRedisUrl(v);
  if (problem) fail(p, problem);
};
const scriptLimits = shape({ cpuMs: int(1, 600_000), memoryBytes: int(1 << 20, 2 ** 31) });

const cgiMapping = shape(
  {
    match: oneOf(nonEmpty, strings),
    root: nonEmpty,
    cgi: shape({ bin: nonEmpty, args: strings, env: record(str, nonEmpty) }),
    fastcgi: shape({ address: nonEmpty, maxConnections: int(1, 1024) }, ["address"]),
    index: strings,
    timeoutMs: int(1, 3_600_000),
    maxBodySize: int(0, 2 ** 40),
    env: record(str, nonEmpty),
  },
  ["match"],
);

const siteShape = shape(
  {
    root: nonEmpty,
    hosts: strings,
    aliases: strings,
    default: bool,
    index: strings,
    pageExtension: (v, p, fail) => {
      if (typeof v !== "string" || !/^\.[A-Za-z0-9]+$/.test(v)) fail(p, `expected an extension like ".sjs"`);
    },
    websockets: record(nonEmpty),
    paths: record(urlPath),
    redirects: record(oneOf(nonEmpty, shape({ to: nonEmpty, status: redirectStatus }, ["to"]))),
    statusPages: record(urlPath, statusKey),
    headers: record(headerValue, headerName),
    mime: record(nonEmpty, extKey),
    cache: shape({ maxBytes: int(0, 2 ** 40), maxFileSize: int(0, 2 ** 40), control: str }),
    cgi: oneOf(cgiMapping, listOf(cgiMapping)),
    fetch: listOf((v, p, fail) => {
      if (typeof v !== "string" || !/^https?:\/\/[^/]+$/.test(v))
        fail(p, `expected an origin like "https://api.example.com"`);
    }),
    limits: scriptLimits,
  },
  ["root"],
);

const configShape = shape({
  listeners: listOf(
    shape(
      {
        port: int(0, 65535),
        host: nonEmpty,
        tls: shape({ cert: nonEmpty, key: nonEmpty }, ["cert", "key"]),
      },
      ["port"],
    ),
  ),
  sites: record(siteShape, (v, p, fail) => {
    if (typeof v !== "string" || !/^[A-Za-z0-9_.-]+$/.test(v)) fail(p, "a site name uses letters, digits, _ . -");
  }),
  hosts: record(nonEmpty, nonEmpty),
  defaultSite: nonEmpty,
  workers: int(1, 256),
  pubsub: shape({ redis: redisUrl }),
  status: oneOf(urlPath, shape({ path: urlPath, allow: strings }, ["path"])),
  limits: shape({
    cpuMs: int(1, 600_000),
    memoryBytes: int(1 << 20, 2 ** 31),
    maxBodySize: int(0, 2 ** 40),
    maxConnections: int(1, 10_000_000),
    keepAliveTimeoutMs: int(0, 3_600_000),
  }),
  dev: bool,
});

/**
 * Validates `config` (from `file`, whose folder relative paths are resolved
 * against) and fills in defaults. Throws {@link ConfigError}.
 */
export function resolveConfig(config: unknown, file: string, baseDir: string): ResolvedConfig {
  const fail = (path: string, msg: string): never => {
    throw new ConfigError(file, path, msg);
  };
  configShape(config, "", fail);
  const c = config as Config;
  const limits = {
    cpuMs: c.limits?.cpuMs ?? 200,
    memoryBytes: c.limits?.memoryBytes ?? 32 << 20,
    maxBodySize: c.limits?.maxBodySize ?? 1 << 20,
    maxConnections: c.limits?.maxConnections ?? 10_000,
    keepAliveTimeoutMs: c.limits?.keepAliveTimeoutMs ?? 5_000,
  };
  const siteEntries = Object.entries(c.sites ?? {});
  if (siteEntries.length === 0) fail("sites", "at least one site is required");
  const sites: ResolvedSite[] = siteEntries.map(([name, s]) => resolveSite(name, s, baseDir, limits));
  const byName = new Map(sites.map((s) => [s.name, s]));
  for (const [host, siteName] of Object.entries(c.hosts ?? {})) {
    const s = byName.get(siteName);
    if (!s) fail(join("hosts", host), `no site named "${siteName}" (sites: ${[...byName.keys()].join(", ")})`);
    s?.hosts.push(host.toLowerCase());
  }
  const seen = new Map<string, string>();
  for (const s of sites) {
    s.hosts.forEach((h, i) => {
      const other = seen.get(h);
      if (other !== undefined && other !== s.name)
        fail(`sites.${s.name}.hosts[${i}]`, `host "${h}" is already used by site "${other}"`);
      seen.set(h, s.name);
    });
  }
  let defaultSite = c.defaultSite;
  if (defaultSite !== undefined && !byName.has(defaultSite))
    fail("defaultSite", `no site named "${defaultSite}" (sites: ${[...byName.keys()].join(", ")})`);
  const marked = sites.filter((s) => s.default);
  if (marked.length > 1)
    fail(`sites.${marked[1]?.name}.default`, `only one site can be the default (also "${marked[0]?.name}")`);
  defaultSite ??= marked[0]?.name ?? sites[0]?.name ?? "";
  for (const s of sites) s.default = s.name === defaultSite;
  const listeners = (c.listeners ?? [{ port: 8080 }]).map((l) => ({
    port: l.port,
    host: l.host ?? "0.0.0.0",
    ...(l.tls ? { tls: l.tls } : {}),
  }));
  if (listeners.length === 0) fail("listeners", "at least one listener is required");
  return {
    file,
    listeners,
    sites,
    defaultSite,
    workers: c.workers ?? 1,
    pubsub: c.pubsub?.redis ? { redis: c.pubsub.redis } : {},
    status: resolveStatus(c.status),
    limits,
    dev: c.dev ?? false,
  };
}

/** Loopback clients only, unless the settings list others. */
export const STATUS_ALLOW_DEFAULT: readonly string[] = ["127.0.0.1", "::1"];

export function resolveStatus(s: string | StatusConfig | undefined): { path: string; allow: string[] } | null {
  if (s === undefined) return null;
  if (typeof s === "string") return { path: s, allow: [...STATUS_ALLOW_DEFAULT] };
  return { path: s.path, allow: s.allow ?? [...STATUS_ALLOW_DEFAULT] };
}

function resolveSite(
  name: string,
  s: SiteConfig,
  baseDir: string,
  limits: { cpuMs: number; memoryBytes: number },
): ResolvedSite {
  const root = isAbsolute(s.root) ? s.root : resolve(baseDir, s.root);
  const headers = new Map<string, [string, string]>();
  for (const [k, v] of SAFE_HEADERS) headers.set(k.toLowerCase(), [k, v]);
  for (const [k, v] of Object.entries(s.headers ?? {})) {
    if (v === null) headers.delete(k.toLowerCase());
    else headers.set(k.toLowerCase(), [k, v]);
  }
  const redirects: Record<string, { to: string; status: number }> = {};
  for (const [from, r] of Object.entries(s.redirects ?? {}))
    redirects[from] = typeof r === "string" ? { to: r, status: 302 } : { to: r.to, status: r.status ?? 302 };
  const cgi = s.cgi === undefined ? [] : Array.isArray(s.cgi) ? s.cgi : [s.cgi];
  return {
    name,
    root,
    web: resolve(root, "web"),
    scripts: resolve(root, "scripts"),
    hosts: (s.hosts ?? []).map((h) => h.toLowerCase()),
    aliases: (s.aliases ?? []).map((h) => h.toLowerCase()),
    default: s.default ?? false,
    index: s.index ?? ["index.sjs", "index.html"],
    pageExtension: s.pageExtension ?? ".sjs",
    websockets: { ...(s.websockets ?? {}) },
    paths: { ...(s.paths ?? {}) },
    redirects,
    statusPages: { ...(s.statusPages ?? {}) },
    headers: [...headers.values()],
    mime: Object.fromEntries(Object.entries(s.mime ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    cache: { ...s.cache, control: s.cache?.control ?? "no-cache" },
    cgi: cgi.map((m) => ({ ...m, root: m.root === undefined ? resolve(root, "web") : resolve(root, m.root) })),
    fetch: s.fetch ?? [],
    limits: { cpuMs: s.limits?.cpuMs ?? limits.cpuMs, memoryBytes: s.limits?.memoryBytes ?? limits.memoryBytes },
  };
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** `parent.key`, or `parent["odd key"]`. */
function join(parent: string, k: string): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(k)) return `${parent}[${JSON.stringify(k)}]`;
  return parent ? `${parent}.${k}` : k;
}

function show(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "function") return "a function";
  if (Array.isArray(v)) return "an array";
  try {
    const s = JSON.stringify(v);
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  } catch {
    return typeof v;
  }
}

function nearest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const d = distance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}
