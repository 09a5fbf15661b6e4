/**
 * One configured site at run time: redirects, script aliases, page scripts
 * (sandbox PageThread: rendered off the main thread), static files (@wirehouse/static), CGI mappings
 * (@wirehouse/cgi), custom status pages and default headers for HTTP; the
 * websocket routes (scripts run by WebsocketScriptHost, or the built-in echo).
 */
import { Buffer } from "node:buffer";
import { type FSWatcher, readFileSync, statSync, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { type CgiGateway, type CgiSiteHandler, createGateway } from "@wirehouse/cgi";
import { HttpError, MultipartParser, type MultipartPart } from "@wirehouse/handshake";
import { normalizePath } from "@wirehouse/router";
import {
  DirectoryFiles,
  EventHub,
  type KeyValueStore,
  MemoryStorage,
  PageNotFoundError,
  PageThread,
  SandboxError,
  SiteStorage,
  statusForError,
  WebsocketScriptHost,
} from "@wirehouse/sandbox";
import { StaticSite } from "@wirehouse/static";
import type { ResolvedSite } from "./config.ts";

export interface AppRequest {
  method: string;
  /** The request target as received. */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  host: string;
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  https: boolean;
  /** The raw body (bounded by the server's limit). */
  body(): Promise<Uint8Array>;
}

export interface AppResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
}

/** What a websocket route does with a socket. */
export interface SocketPeer {
  send(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  /** Subscribes the socket to a server topic (see {@link ScriptTopics}). */
  subscribe?(topic: string): void;
}

/**
 * Server topics for websocket scripts' `broadcast`: every client of a script
 * subscribes to the script's topic and a broadcast is a publish, so a pub/sub
 * adapter (in-host relay, Redis) carries it to the clients of every instance.
 */
export interface ScriptTopics {
  /** Publishes to every subscriber of `topic` on every instance, except `except` (a local socket). */
  publish(topic: string, data: string | Uint8Array, except: SocketPeer | undefined): void;
}

/** The topic of a site's websocket script path. */
export function scriptTopic(site: string, path: string): string {
  return `wirehouse:script:${site}:${path}`;
}

export interface SocketRoute {
  /** Registers an accepted socket; returns its event sinks. */
  open(peer: SocketPeer, info: { url: string; headers: Record<string, string>; remoteAddress: string }): SocketSession;
}

export interface SocketSession {
  message(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  lag(ms: number): void;
}

export type Logger = (level: "info" | "warn" | "error", message: string) => void;

export interface SiteRuntimeOptions {
  dev: boolean;
  log: Logger;
  /** Persist `storage` in <root>/storage.json (default true; the embedded site keeps it in memory). */
  persistStorage?: boolean;
  maxBodySize: number;
  /** Reload websocket scripts when their file changes (default true). */
  watch?: boolean;
  /** Route scripts' `broadcast` through server topics (else: to this script's own clients). */
  topics?: ScriptTopics;
}

const TEXT = new TextEncoder();
const MAX_REDISPATCH = 4;

function text(status: number, body: string, type = "text/plain; charset=utf-8"): AppResponse {
  const bytes = TEXT.encode(body);
  return { status, headers: [["content-type", type]], body: bytes };
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  426: "Upgrade Required",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function plainStatus(status: number, detail?: string): AppResponse {
  return text(status, `${status} ${STATUS_TEXT[status] ?? ""}\n${detail ? `\n${detail}\n` : ""}`);
}

export class SiteRuntime {
  readonly config: ResolvedSite;
  private readonly options: SiteRuntimeOptions;
  /** Renders the site's pages on a worker thread, so a page stuck in a long native call stalls no connection. */
  private engine!: PageThread;
  private files!: DirectoryFiles;
  private storage!: KeyValueStore & { close?(): unknown };
  private readonly events = new EventHub();
  private staticSite!: StaticSite;
  private gateway: CgiGateway | undefined;
  private cgi: CgiSiteHandler[] = [];
  private readonly scripts = new Map<string, WebsocketScriptHost>();
  private readonly routes = new Map<string, SocketRoute>();
  private nextClient = 1;
  private watcher: FSWatcher | undefined;
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>();
  /** Open sockets on this runtime (a reload retires a runtime once this reaches 0). */
  sockets = 0;

  constructor(config: ResolvedSite, options: SiteRuntimeOptions) {
    this.config = config;
    this.options = options;
  }

  async start(): Promise<void> {
    const c = this.config;
    try {
      if (!statSync(c.web).isDirectory()) throw new Error();
    } catch {
      throw new Error(`site "${c.name}": ${c.web} is not a directory (a site folder needs web/)`);
    }
    this.files = new DirectoryFiles(c.web);
    this.storage =
      this.options.persistStorage === false ? new MemoryStorage() : new SiteStorage(join(c.root, "storage.json"));
    const fetchPolicy = c.fetch.length ? { fetch: { allow: c.fetch } } : {};
    this.engine = await PageThread.create({
      files: this.files,
      storage: this.storage,
      events: this.events,
      limits: c.limits,
      log: (e) =>
        this.options.log(
          e.level === "log" ? "info" : e.level === "warn" ? "warn" : e.level === "error" ? "error" : "info",
          `[${c.name}] ${e.file}: ${e.message}`,
        ),
      ...fetchPolicy,
    });
    this.staticSite = new StaticSite({
      root: c.web,
      index: null,
      cacheControl: c.cache.control,
      ...(c.cache.maxBytes !== undefined ? { maxCacheBytes: c.cache.maxBytes } : {}),
      ...(c.cache.maxFileSize !== undefined ? { maxCachedFileSize: c.cache.maxFileSize } : {}),
      watch: false,
    });
    if (c.cgi.length) {
      this.gateway = createGateway({
        log: (level, msg) => this.options.log(level === "error" ? "error" : "warn", `[${c.name}] cgi: ${msg}`),
      });
      this.cgi = c.cgi.map((m) => this.gateway?.site(m as never) as CgiSiteHandler);
    }
    for (const [path, script] of Object.entries(c.websockets)) {
      if (script === "@echo") {
        this.routes.set(path, echoRoute(this));
        continue;
      }
      const file = join(c.scripts, script);
      const sockets = new Map<number, SocketPeer>();
      const topics = this.options.topics;
      const topic = scriptTopic(c.name, path);
      const host = new WebsocketScriptHost({
        file: `/scripts/${script}`,
        source: () => readFileSync(file, "utf8"),
        limits: c.limits,
        storage: this.storage instanceof SiteStorage ? this.storage : undefined,
        events: this.events,
        ...(c.fetch.length ? { fetch: { allow: c.fetch } } : {}),
        onSend: (id, data) => sockets.get(id)?.send(typeof data === "string" ? data : new Uint8Array(data)),
        onClose: (id, code, reason) => sockets.get(id)?.close(code, reason),
        ...(topics
          ? {
              onBroadcast: (data: string | ArrayBuffer, except: number | undefined) =>
                topics.publish(
                  topic,
                  typeof data === "string" ? data : new Uint8Array(data),
                  except === undefined ? undefined : sockets.get(except),
                ),
            }
          : {}),
        onLog: (e) =>
          this.options.log(
            e.level === "error" ? "error" : e.level === "warn" ? "warn" : "info",
            `[${c.name}] ${e.file}: ${e.message}`,
          ),
        onFault: (err) => this.options.log("error", `[${c.name}] /scripts/${script} restarted: ${err.message}`),
      });
      host.ready.catch((err: Error) => this.options.log("error", `[${c.name}] /scripts/${script}: ${err.message}`));
      this.scripts.set(path, host);
      this.routes.set(path, {
        open: (peer, info) => {
          const id = this.nextClient++;
          sockets.set(id, peer);
          this.sockets++;
          if (topics) peer.subscribe?.(topic);
          host.connect({ id, url: info.url, headers: info.headers, remoteAddress: info.remoteAddress });
          return {
            // A Node Buffer's slice() is a view, not a copy: hand the host a plain Uint8Array
            // (WebsocketScriptHost.message copies with slice() and transfers the .buffer).
            message: (data) =>
              host.message(
                id,
                typeof data === "string" || data.constructor === Uint8Array ? data : new Uint8Array(data),
              ),
            close: (code, reason) => {
              if (!sockets.delete(id)) return;
              this.sockets--;
              host.disconnect(id, code, reason);
            },
            lag: (ms) => host.lag(id, ms),
          };
        },
      });
    }
    this.watchScripts();
    // A script that fails to load is logged (and refuses its clients with 1011); the site still starts.
    await Promise.all([...this.scripts.values()].map((h) => h.ready.catch(() => undefined)));
  }

  /** The websocket route for `path`, if any. */
  socketRoute(path: string): SocketRoute | undefined {
    return this.routes.get(path);
  }

  async handle(req: AppRequest): Promise<AppResponse> {
    const res = await this.dispatch(req, 0);
    return this.finish(req, res);
  }

  private async dispatch(req: AppRequest, depth: number): Promise<AppResponse> {
    const q = req.url.indexOf("?");
    const rawPath = q < 0 ? req.url : req.url.slice(0, q);
    const normalized = normalizePath(rawPath);
    if (typeof normalized !== "string") return this.statusPage(req, normalized.status);
    let path = normalized;
    const c = this.config;

    // Redirects: exact, or a "/prefix/*" rule that keeps the rest of the path.
    const exact = c.redirects[path];
    if (exact) return redirect(exact.to, exact.status);
    for (const [from, r] of Object.entries(c.redirects)) {
      if (from.endsWith("/*")) {
        const base = from.slice(0, -1);
        if (path.startsWith(base) || path === base.slice(0, -1)) {
          const rest = path.length > base.length ? path.slice(base.length) : "";
          return redirect(r.to.replace(/\/?\*?$/, "/") + rest + (q < 0 ? "" : req.url.slice(q)), r.status);
        }
      }
    }

    // A plain HTTP request to a websocket path: the script's onRequest decides.
    const host = this.scripts.get(path);
    if (host) {
      const r = await host
        .request({ id: this.nextClient++, url: req.url, headers: req.headers })
        .catch(() => undefined);
      if (r?.redirect) return redirect(r.redirect, 302);
      if (r?.body !== undefined) return text(200, r.body, "text/html; charset=utf-8");
      return plainStatus(426, "This path is a WebSocket endpoint.");
    }
    if (this.routes.has(path))
      return {
        ...plainStatus(426, "This path is a WebSocket endpoint."),
        headers: [
          ["content-type", "text/plain; charset=utf-8"],
          ["upgrade", "websocket"],
        ],
      };

    // Script aliases.
    const alias = c.paths[path];
    if (alias) path = alias;

    // CGI mappings.
    for (const cgi of this.cgi) {
      if (!cgi.mayMatch(path)) continue;
      const body = await req.body();
      const headers = Object.entries(req.headers);
      const result = await cgi.handle({
        method: req.method,
        target: alias ? path + (q < 0 ? "" : req.url.slice(q)) : req.url,
        headers,
        remoteAddress: req.remoteAddress,
        remotePort: req.remotePort,
        localPort: req.localPort,
        https: req.https,
        body,
      } as never);
      if (result.type === "error") return this.statusPage(req, result.status);
      if (result.type === "local-redirect") {
        if (depth >= MAX_REDISPATCH) return plainStatus(500, "too many local redirects");
        return this.dispatch({ ...req, method: "GET", url: result.location }, depth + 1);
      }
      return { status: result.status, headers: result.headers, body: result.body };
    }

    // A page: rendered straight away (no directory check first: that is a stat per request);
    // a directory with the page extension in its name is found when the page is missing.
    if (!path.endsWith("/") && extname(path) === c.pageExtension) return this.render(req, path, 200);

    // Directories: the index files, in order.
    let file = path;
    if (path.endsWith("/") || this.isDirectory(path)) {
      if (!path.endsWith("/")) return redirect(`${path}/${q < 0 ? "" : req.url.slice(q)}`, 301);
      const found = c.index.find((name) => this.isFile(path + name));
      if (!found) return this.statusPage(req, 404);
      file = path + found;
    }

    if (extname(file) === c.pageExtension) return this.render(req, file, 200);

    const res = await this.staticSite.serve({
      method: req.method,
      path: file,
      normalized: true,
      query: q < 0 ? "" : req.url.slice(q + 1),
      headers: req.headers,
    } as never);
    const out: AppResponse = { status: res.status, headers: res.headers.map(([k, v]) => [k, v]), body: res.body };
    const type = c.mime[extname(file).toLowerCase()];
    if (type && res.status < 300) setHeader(out.headers, "content-type", type);
    if (out.status >= 400 && c.statusPages[String(out.status)]) return this.statusPage(req, out.status, out);
    return out;
  }

  private async render(req: AppRequest, file: string, status: number): Promise<AppResponse> {
    let body: unknown;
    if (req.method === "POST" || req.method === "PUT" || req.method === "PATCH") {
      const raw = await req.body();
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
      if (type === "multipart/form-data") {
        const parsed = multipartFields(req.headers["content-type"] ?? "", raw, this.options.maxBodySize);
        if (parsed instanceof HttpError) return plainStatus(parsed.status, parsed.message);
        body = parsed;
      } else {
        const decoded = new TextDecoder().decode(raw);
        if (type === "application/x-www-form-urlencoded") body = fields(new URLSearchParams(decoded));
        else if (type === "application/json") {
          try {
            body = JSON.parse(decoded);
          } catch {
            return plainStatus(400, "invalid JSON body");
          }
        } else if (decoded.length) body = decoded;
      }
    }
    try {
      const r = await this.engine.render(file, {
        method: req.method,
        url: req.url,
        headers: req.headers,
        remoteAddress: req.remoteAddress,
        body,
      });
      const headers = r.headers.map(([k, v]) => [k, v] as [string, string]);
      if (!headers.some(([k]) => k === "content-type")) headers.push(["content-type", "text/html; charset=utf-8"]);
      // HEAD keeps the body until finish(), which turns it into the GET's Content-Length.
      return { status: status !== 200 ? status : r.status, headers, body: r.body };
    } catch (e) {
      if (e instanceof PageNotFoundError) {
        if (status !== 200) return plainStatus(status);
        if (this.isDirectory(file)) {
          const q = req.url.indexOf("?");
          return redirect(`${file}/${q < 0 ? "" : req.url.slice(q)}`, 301);
        }
        return this.statusPage(req, 404);
      }
      const code = e instanceof SandboxError ? statusForError(e) : 500;
      const detail = e instanceof SandboxError ? e.describe() : String((e as Error)?.stack ?? e);
      this.options.log("error", `[${this.config.name}] ${file}: ${detail}`);
      if (status !== 200) return plainStatus(status);
      return this.options.dev ? plainStatus(code, detail) : this.statusPage(req, code);
    }
  }

  /** The custom page for `status` if the site has one, else a plain one. */
  private async statusPage(req: AppRequest, status: number, fallback?: AppResponse): Promise<AppResponse> {
    const page = this.config.statusPages[String(status)];
    if (!page) return fallback ?? plainStatus(status);
    if (extname(page) === this.config.pageExtension) return this.render({ ...req, method: "GET" }, page, status);
    try {
      const bytes = new Uint8Array(await readFile(join(this.config.web, normalizePath(page) as string)));
      const type =
        this.config.mime[extname(page).toLowerCase()] ??
        (extname(page) === ".html" ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
      return { status, headers: [["content-type", type]], body: bytes };
    } catch {
      return fallback ?? plainStatus(status);
    }
  }

  /** Default headers (not overriding what the response set), HEAD without a body. */
  private finish(req: AppRequest, res: AppResponse): AppResponse {
    for (const [k, v] of this.config.headers) {
      const lower = k.toLowerCase();
      if (!res.headers.some(([h]) => h.toLowerCase() === lower)) res.headers.push([k, v]);
    }
    if (req.method === "HEAD" && res.body instanceof Uint8Array) {
      if (!res.headers.some(([h]) => h.toLowerCase() === "content-length"))
        res.headers.push(["content-length", String(res.body.byteLength)]);
      res.body = null;
    }
    return res;
  }

  private isDirectory(path: string): boolean {
    try {
      return !path.split("/").some((s) => s.startsWith(".")) && statSync(join(this.config.web, path)).isDirectory();
    } catch {
      return false;
    }
  }

  private isFile(path: string): boolean {
    try {
      return statSync(join(this.config.web, path)).isFile();
    } catch {
      return false;
    }
  }

  /** A changed script file is reloaded (its clients are closed with 1012 "service restart"). */
  private watchScripts(): void {
    if (this.scripts.size === 0 || this.options.watch === false) return;
    const byFile = new Map<string, [string, WebsocketScriptHost]>();
    for (const [path, host] of this.scripts) byFile.set(this.config.websockets[path] as string, [path, host]);
    try {
      this.watcher = watch(this.config.scripts, (_event, name) => {
        const hit = name ? byFile.get(String(name).replaceAll("\\", "/")) : undefined;
        if (!hit) return;
        const [path, host] = hit;
        clearTimeout(this.pending.get(path));
        this.pending.set(
          path,
          setTimeout(() => {
            this.pending.delete(path);
            host.reload().then(
              () => this.options.log("info", `[${this.config.name}] reloaded /scripts/${this.config.websockets[path]}`),
              (e: Error) =>
                this.options.log(
                  "error",
                  `[${this.config.name}] /scripts/${this.config.websockets[path]}: ${e.message}`,
                ),
            );
          }, 100),
        );
      });
      (this.watcher as { unref?(): void }).unref?.();
    } catch {
      // No watcher on this file system: scripts are reloaded with the settings.
    }
  }

  /** Reloads every websocket script (their clients are closed with 1012). */
  async reloadScripts(): Promise<void> {
    await Promise.all([...this.scripts.values()].map((h) => h.reload()));
  }

  async close(): Promise<void> {
    this.watcher?.close();
    for (const t of this.pending.values()) clearTimeout(t);
    await Promise.all([...this.scripts.values()].map((h) => h.terminate().catch(() => undefined)));
    // Requests of a site retired by a reload may still be rendering: they finish first.
    await this.engine?.close();
    this.staticSite?.close();
    await (this.storage as { close?(): unknown })?.close?.();
  }
}

function echoRoute(site: SiteRuntime): SocketRoute {
  return {
    open(peer) {
      site.sockets++;
      let open = true;
      return {
        message: (data) => peer.send(data),
        close: () => {
          if (open) site.sockets--;
          open = false;
        },
        lag: () => {},
      };
    },
  };
}

function redirect(location: string, status: number): AppResponse {
  return {
    status,
    headers: [
      ["location", location],
      ["content-type", "text/plain; charset=utf-8"],
    ],
    body: TEXT.encode(`Redirecting to ${location}\n`),
  };
}

function setHeader(headers: [string, string][], name: string, value: string): void {
  const i = headers.findIndex(([k]) => k.toLowerCase() === name);
  if (i >= 0) headers[i] = [name, value];
  else headers.push([name, value]);
}

/** A file field of a multipart/form-data body, as a page script sees it. */
export interface UploadedFile {
  filename: string;
  /** The part's Content-Type ("application/octet-stream" when the client sent none for a file). */
  type: string;
  size: number;
  /** The content as text, when it is valid UTF-8. */
  text?: string;
  /** The content in base64, when it is not valid UTF-8. */
  base64?: string;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A multipart/form-data body (RFC 7578) as page scripts get it: text fields as strings,
 * file fields (parts with a filename) as {@link UploadedFile}s; a repeated name gives an
 * array, as for urlencoded forms. The body is already bounded by the server's
 * `maxBodySize`; parts are limited to 1,000. A malformed body is an HttpError (400, 413, 415).
 */
export function multipartFields(
  contentType: string,
  raw: Uint8Array,
  maxBodySize: number,
): Record<string, string | UploadedFile | (string | UploadedFile)[]> | HttpError {
  const parser = MultipartParser.fromContentType(contentType, { maxParts: 1000, maxPartSize: maxBodySize });
  if (parser instanceof HttpError) return parser;
  const r = parser.push(raw);
  if (r.kind === "error") return r.error;
  const ended = parser.end();
  if (ended !== undefined) return ended;
  const out: Record<string, string | UploadedFile | (string | UploadedFile)[]> = Object.create(null);
  let part: MultipartPart | undefined;
  let chunks: Uint8Array[] = [];
  for (const ev of r.events) {
    if (ev.type === "part") {
      part = ev.part;
      chunks = [];
    } else if (ev.type === "data") chunks.push(ev.data);
    else if (ev.type === "part-end" && part !== undefined) {
      const data = concat(chunks);
      let value: string | UploadedFile;
      if (part.filename === undefined) value = new TextDecoder().decode(data);
      else {
        const file: UploadedFile = {
          filename: part.filename,
          type: part.headers.has("content-type") ? part.contentType : "application/octet-stream",
          size: data.byteLength,
        };
        try {
          file.text = STRICT_UTF8.decode(data);
        } catch {
          file.base64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
        }
        value = file;
      }
      const cur = out[part.name];
      out[part.name] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
      part = undefined;
    }
  }
  // A plain object (the page sees JSON anyway); null-prototype kept names like "__proto__" harmless.
  return { ...out };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  const all = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

function fields(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of params) {
    const cur = out[k];
    out[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  return out;
}
