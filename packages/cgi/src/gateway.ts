/**
 * The gateway: maps a site's requests to scripts and runs them over CGI/1.1
 * or FastCGI, with time limits and error statuses the server can send as is.
 *
 * @module
 */
import { runCgi } from "./cgi-process.ts";
import { FastCgiPool } from "./fastcgi-client.ts";
import { headerValue, metaVariables, SERVER_SOFTWARE } from "./meta.ts";
import { decodeTargetPath, type ResolveOutcome, ScriptResolver } from "./resolve.ts";
import { readResponse } from "./response.ts";
import {
  CgiAbortedError,
  type CgiLogger,
  type CgiRequest,
  type CgiRequestBody,
  type CgiResult,
  type CgiSite,
  type ExecOptions,
  type ExecResult,
} from "./types.ts";

export interface GatewayOptions {
  /** Where program stderr and error lines go. Default: console.error. */
  log?: CgiLogger;
  /** SERVER_SOFTWARE (default "wirehouse"). */
  serverSoftware?: string;
}

const defaultLog: CgiLogger = (level, message) => console.error(`[cgi ${level}] ${message}`);

/** Holds the FastCGI connection pools shared by every site that names the same address. */
export class CgiGateway {
  readonly log: CgiLogger;
  readonly serverSoftware: string;
  private readonly pools = new Map<string, FastCgiPool>();

  constructor(options: GatewayOptions = {}) {
    this.log = options.log ?? defaultLog;
    this.serverSoftware = options.serverSoftware ?? SERVER_SOFTWARE;
  }

  site(config: CgiSite): CgiSiteHandler {
    if ((config.cgi === undefined) === (config.fastcgi === undefined)) {
      throw new Error("a CGI site needs exactly one of `cgi` and `fastcgi`");
    }
    let pool: FastCgiPool | null = null;
    if (config.fastcgi) {
      // Sites naming the same address and pool settings share connections.
      const f = config.fastcgi;
      const key = JSON.stringify([
        f.address,
        f.maxConnections,
        f.keepAlive,
        f.pipeline,
        f.multiplex,
        f.idleTimeoutMs,
        f.params,
      ]);
      pool = this.pools.get(key) ?? new FastCgiPool(f, this.log);
      this.pools.set(key, pool);
    }
    return new CgiSiteHandler(this, config, pool);
  }

  /** The first pool for a FastCGI address (for inspection: what GET_VALUES said). */
  pool(address: string): FastCgiPool | undefined {
    for (const p of this.pools.values()) if (p.address === address) return p;
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

export function createGateway(options?: GatewayOptions): CgiGateway {
  return new CgiGateway(options);
}

async function collect(body: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) return null;
    parts.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const utf8 = new TextEncoder();

/** One site's CGI/FastCGI mapping. */
export class CgiSiteHandler {
  private readonly resolver: ScriptResolver;
  readonly timeoutMs: number;

  constructor(
    private readonly gateway: CgiGateway,
    readonly config: CgiSite,
    private readonly pool: FastCgiPool | null,
  ) {
    this.resolver = new ScriptResolver({
      root: config.root,
      match: config.match,
      index: config.index,
      mustBeExecutable: config.cgi !== undefined && config.cgi.bin === undefined,
      cacheMs: config.resolveCacheMs ?? 1000,
    });
    this.timeoutMs = config.timeoutMs ?? 30_000;
  }

  /** Quick syntactic test: might this decoded path belong to this mapping? */
  mayMatch(path: string): boolean {
    return this.resolver.mayMatch(path);
  }

  /** Finds the script for a decoded path (see {@link ScriptResolver}). */
  resolve(path: string): Promise<ResolveOutcome> {
    return this.resolver.resolve(path);
  }

  /** Runs the script for one HTTP request. Never throws: failures are `{ type: "error" }` results. */
  async handle(req: CgiRequest): Promise<CgiResult> {
    const log = this.gateway.log;
    const path = req.path ?? decodeTargetPath(req.target);
    if (path === null) return { type: "error", status: 400, message: "undecodable request path" };
    let query = req.query;
    if (query === undefined) {
      const q = req.target.indexOf("?");
      query = q < 0 ? "" : req.target.slice(q + 1);
    }
    const found = await this.resolver.resolve(path);
    if (!found.ok) return { type: "error", status: found.status, message: found.reason };
    const target = found.target;
    const via = this.config.fastcgi ? `fastcgi ${this.config.fastcgi.address}` : "cgi";
    const label = `${via} ${req.method} ${target.scriptName}`;

    // RFC 3875 §4.1.2: CONTENT_LENGTH must be exact, so a body of unknown length is buffered.
    let body: CgiRequestBody = req.body ?? null;
    let length: number | null = null;
    if (body instanceof Uint8Array) length = body.length;
    else if (body !== null) {
      const declared = headerValue(req.headers, "content-length");
      if (declared !== undefined && /^\d+$/.test(declared)) length = Number(declared);
      else {
        const limit = this.config.maxBufferedBody ?? 16 * 1024 * 1024;
        body = await collect(body, limit);
        if (body === null) return { type: "error", status: 413, message: `request body exceeds ${limit} bytes` };
        length = body.length;
      }
    }
    const meta = metaVariables(req, target, query, length);
    meta.set("SERVER_SOFTWARE", this.gateway.serverSoftware);

    const run = this.pool
      ? this.pool.request({ params: meta, body, label, method: req.method })
      : runCgi({ program: this.config.cgi!, script: target.filename, env: meta, body, log, label });
    const timer = setTimeout(() => {
      log("error", `${label}: no complete response within ${this.timeoutMs} ms, stopped`);
      run.cancel("timeout");
    }, this.timeoutMs);
    const clear = () => clearTimeout(timer);
    if (run.out.finished) clear();
    else run.out.onSettled = clear;
    const result = await readResponse(run.out, {
      maxHeaderBytes: this.config.maxHeaderBytes ?? 64 * 1024,
      cancel: () => run.cancel(),
      onBodyError: (err) => {
        if (err.reason === "malformed" || err.reason === "crash")
          log("error", `${label}: body aborted: ${err.message}`);
      },
    });
    if (result.type === "error" && result.status === 502 && !/not found|cannot|killed|FastCGI/.test(result.message)) {
      log("error", `${label}: ${result.message}`);
    }
    return result;
  }

  /**
   * Runs a script outside an HTTP request (a websocket message, a TypeScript
   * handler) with the same meta-variables and limits; the whole body is
   * collected. Local redirects are followed (at most 5). Failures are statuses
   * (404, 502, 504), never a half body.
   */
  async exec(path: string, options: ExecOptions = {}): Promise<ExecResult> {
    let method = (options.method ?? "GET").toUpperCase();
    let query =
      options.query === undefined
        ? ""
        : typeof options.query === "string"
          ? options.query
          : new URLSearchParams(options.query as Record<string, string>).toString();
    let body: Uint8Array | null =
      options.body === undefined || options.body === null
        ? null
        : typeof options.body === "string"
          ? utf8.encode(options.body)
          : options.body;
    const headers: Array<[string, string]> = Array.isArray(options.headers)
      ? options.headers.map(([n, v]) => [n, v] as [string, string])
      : Object.entries((options.headers ?? {}) as Record<string, string>);
    if (body !== null && headerValue(headers, "content-type") === undefined) {
      headers.push(["Content-Type", "application/x-www-form-urlencoded"]);
    }
    const serverName = options.serverName ?? "localhost";
    if (headerValue(headers, "host") === undefined) headers.push(["Host", serverName]);
    for (let hop = 0; hop < 6; hop++) {
      const encodedPath = path.split("/").map(encodeURIComponent).join("/");
      const result = await this.handle({
        method,
        target: query ? `${encodedPath}?${query}` : encodedPath,
        path,
        query,
        httpVersion: "HTTP/1.1",
        headers: body === null ? headers : [...headers, ["Content-Length", String(body.length)]],
        remoteAddress: options.remoteAddress ?? "127.0.0.1",
        serverName,
        body,
      });
      if (result.type === "error") return { status: result.status, headers: [], body: utf8.encode(result.message) };
      if (result.type === "local-redirect") {
        const q = result.location.indexOf("?");
        path = decodeTargetPath(result.location) ?? "/";
        query = q < 0 ? "" : result.location.slice(q + 1);
        method = "GET";
        body = null;
        continue;
      }
      try {
        const collected = await collect(result.body, 64 * 1024 * 1024);
        if (collected === null) {
          return { status: 502, headers: [], body: utf8.encode("response body exceeds 64 MiB") };
        }
        return { status: result.status, headers: result.headers, body: collected };
      } catch (err) {
        const status = err instanceof CgiAbortedError && err.reason === "timeout" ? 504 : 502;
        return { status, headers: [], body: utf8.encode(String((err as Error).message)) };
      }
    }
    return { status: 502, headers: [], body: utf8.encode("too many local redirects") };
  }
}
