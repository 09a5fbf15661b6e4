/**
 * One static site: a directory served from memory, with HTTP caching
 * semantics, precompressed variants, streaming for large files, bounded LRU
 * memory, and change detection.
 *
 * @module
 */

import { normalizePath } from "@wirehouse/router";
import { type Compressor, contentTag, zlibCompressor } from "./compress.ts";
import type { FileStat, FileSystem, Watcher } from "./fs.ts";
import {
  chooseCoding,
  type EncodingPreference,
  headerOf,
  noneMatchHits,
  notModifiedSince,
  parseAcceptEncoding,
  parseRange,
  type ResponseHeaders,
  type StaticRequest,
  type StaticResponse,
} from "./http.ts";
import { contentTypeOf, isCompressible } from "./mime-type.ts";
import { nodeFileSystem } from "./node-fs.ts";

/** Options of a static site. */
export interface StaticOptions {
  /** The directory to serve. */
  readonly root: string;
  /** Where files come from (default: `node:fs`). */
  readonly fs?: FileSystem;
  /** Precompression (default: `node:zlib` brotli + gzip); null turns it off. */
  readonly compressor?: Compressor | null;
  /** The file a directory serves (default `index.html`); null: directories are 404. */
  readonly index?: string | null;
  /** Serve names starting with `.` (default false: 404). */
  readonly allowDotfiles?: boolean;
  /** Cache-Control for every response, or per path; null sends none (default `no-cache`: always revalidate, cheaply, by ETag). */
  readonly cacheControl?: string | ((path: string) => string | null) | null;
  /** Files larger than this are streamed from disk, not cached (default 1 MiB). */
  readonly maxCachedFileSize?: number;
  /** Bound of the cache: identity + compressed bytes of every cached file (default 64 MiB); least recently used go first. */
  readonly maxCacheBytes?: number;
  /** A cached file is checked against the disk (stat) at most this often (default 1000 ms). */
  readonly revalidateMs?: number;
  /** Watch the root for changes where the runtime can (default true). */
  readonly watch?: boolean;
  /** Called after a watcher event has been applied (the changed path relative to the root, or null). */
  readonly onInvalidate?: (relative: string | null) => void;
}

interface Variant {
  readonly etag: string;
  readonly ok: StaticResponse;
  readonly head: StaticResponse;
  readonly notModified: StaticResponse;
}

interface Entry {
  /** Request paths answered by this entry (`/docs/` and `/docs/index.html`). */
  readonly keys: string[];
  /** The file as addressed below the root, and its canonical location. */
  readonly abs: string;
  readonly real: string;
  readonly fileRel: string;
  readonly realRel: string;
  readonly stat: FileStat;
  readonly size: number;
  readonly lastModified: string;
  readonly mtimeSeconds: number;
  readonly contentType: string;
  readonly cacheControl: string | null;
  readonly vary: boolean;
  /** Null: streamed from disk. */
  readonly bytes: Uint8Array | null;
  readonly identity: Variant;
  readonly br: Variant | null;
  readonly gzip: Variant | null;
  readonly cost: number;
  checkedAt: number;
  lastUsed: number;
}

const NOT_FOUND = "not-found" as const;
const REDIRECT = "redirect" as const;
type Outcome = Entry | typeof NOT_FOUND | typeof REDIRECT;

const encoder = new TextEncoder();

function plain(status: number, text: string, extra: ResponseHeaders = []): [StaticResponse, StaticResponse] {
  const body = encoder.encode(text);
  const headers: ResponseHeaders = Object.freeze([
    ["content-type", "text/plain; charset=utf-8"],
    ["content-length", String(body.length)],
    ...extra,
  ]);
  return [Object.freeze({ status, headers, body }), Object.freeze({ status, headers, body: null })];
}

const [BAD_REQUEST, BAD_REQUEST_HEAD] = plain(400, "Bad Request\n");
const [NOT_FOUND_GET, NOT_FOUND_HEAD] = plain(404, "Not Found\n");
const [METHOD_NOT_ALLOWED] = plain(405, "Method Not Allowed\n", [["allow", "GET, HEAD"]]);
const [SERVER_ERROR, SERVER_ERROR_HEAD] = plain(500, "Internal Server Error\n");

/**
 * Whether a path is in the form `normalizePath` produces. A path handed in as
 * already normalised is checked once more before it touches the disk, so a
 * caller's mistake cannot become a traversal.
 */
function isCanonical(path: string): boolean {
  if (path.charCodeAt(0) !== 47 || path.includes("\0") || path.includes("\\")) return false;
  const segments = path.split("/");
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === "." || seg === ".." || (seg === "" && i !== segments.length - 1)) return false;
  }
  return true;
}

/** Whether a `/`-separated path has a segment starting with `.`. */
function hasDotSegment(path: string): boolean {
  return path.includes("/.") || path.includes("\\.") || path.startsWith(".");
}

/** Whether a canonical path is the root or below it (`/srv/www2` is not below `/srv/www`). */
function inside(real: string, rootReal: string): boolean {
  if (real === rootReal) return true;
  const prefix = rootReal.endsWith("/") ? rootReal : rootReal + "/";
  return real.startsWith(prefix);
}

function encodePathForLocation(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * A directory served from memory.
 *
 * `serve` answers from the cache synchronously when it can (a fresh hit) and
 * with a promise otherwise: always `await` it.
 */
export class StaticSite {
  readonly root: string;
  private readonly fs: FileSystem;
  private readonly compressor: Compressor | null;
  private readonly index: string | null;
  private readonly allowDotfiles: boolean;
  private readonly cacheControl: (path: string) => string | null;
  private readonly maxCachedFileSize: number;
  private readonly maxCacheBytes: number;
  private readonly revalidateMs: number;
  private readonly watchEnabled: boolean;
  private readonly onInvalidate: ((relative: string | null) => void) | undefined;

  private readonly cache = new Map<string, Entry>();
  private readonly byFile = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Outcome>>();
  private readonly encodings = new Map<string, EncodingPreference>();
  private rootRealPromise: Promise<string | null> | null = null;
  private watcher: Watcher | null = null;
  private closed = false;
  private tick = 0;
  private bytes = 0;
  /** Counts watcher events, so a load that raced with one is checked again on its next request. */
  private generation = 0;

  constructor(options: StaticOptions) {
    let root = options.root.replaceAll("\\", "/");
    while (root.length > 1 && root.endsWith("/")) root = root.slice(0, -1);
    this.root = root;
    this.fs = options.fs ?? nodeFileSystem;
    this.compressor = options.compressor === undefined ? zlibCompressor : options.compressor;
    this.index = options.index === undefined ? "index.html" : options.index;
    this.allowDotfiles = options.allowDotfiles ?? false;
    const cc = options.cacheControl === undefined ? "no-cache" : options.cacheControl;
    this.cacheControl = typeof cc === "function" ? cc : () => cc;
    this.maxCachedFileSize = options.maxCachedFileSize ?? 1024 * 1024;
    this.maxCacheBytes = options.maxCacheBytes ?? 64 * 1024 * 1024;
    this.revalidateMs = options.revalidateMs ?? 1000;
    this.watchEnabled = options.watch ?? true;
    this.onInvalidate = options.onInvalidate;
  }

  /** Bytes held by the cache (all variants). */
  get cachedBytes(): number {
    return this.bytes;
  }

  /** Number of files held (cached or known as streamed). */
  get cachedFiles(): number {
    return this.byFile.size;
  }

  /** Answers a request. */
  serve(request: StaticRequest): StaticResponse | Promise<StaticResponse> {
    const method = request.method;
    const head = method === "HEAD";
    if (!head && method !== "GET") return METHOD_NOT_ALLOWED;
    let path = request.path;
    if (path === "" || path.charCodeAt(0) === 63 /* ? */) return this.redirect("", request, head);
    if (request.normalized !== true) {
      const n = normalizePath(path);
      if (typeof n !== "string") return head ? BAD_REQUEST_HEAD : BAD_REQUEST;
      path = n;
    }
    const entry = this.cache.get(path);
    if (entry !== undefined && Date.now() - entry.checkedAt < this.revalidateMs) {
      entry.lastUsed = ++this.tick;
      return this.respond(entry, request, head);
    }
    return this.slow(path, request, head);
  }

  /** Loads every file below the root into the cache (up to `maxCacheBytes`). */
  async preload(): Promise<void> {
    const rootReal = await this.rootReal();
    if (rootReal === null) return;
    const walk = async (dir: string): Promise<void> => {
      for (const e of await this.fs.readdir(this.root + dir)) {
        if (!this.allowDotfiles && e.name.startsWith(".")) continue;
        const path = dir + e.name;
        if (e.kind === "directory") await walk(path + "/");
        else if (e.kind === "file") await this.lookup(path);
        if (this.closed) return;
      }
    };
    await walk("/");
  }

  /** Stops the watcher and empties the cache. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    this.cache.clear();
    this.byFile.clear();
    this.bytes = 0;
  }

  // -------------------------------------------------------------------------

  private async slow(path: string, request: StaticRequest, head: boolean): Promise<StaticResponse> {
    if (!isCanonical(path)) return head ? BAD_REQUEST_HEAD : BAD_REQUEST;
    if (!this.allowDotfiles && hasDotSegment(path)) return head ? NOT_FOUND_HEAD : NOT_FOUND_GET;
    let outcome: Outcome;
    try {
      outcome = await this.lookup(path);
    } catch {
      // The disk failed in a way that is not "no such file" (EMFILE, EIO): a
      // server error, not a crash.
      return head ? SERVER_ERROR_HEAD : SERVER_ERROR;
    }
    if (outcome === NOT_FOUND) return head ? NOT_FOUND_HEAD : NOT_FOUND_GET;
    if (outcome === REDIRECT) return this.redirect(path, request, head);
    outcome.lastUsed = ++this.tick;
    return this.respond(outcome, request, head);
  }

  /** Revalidates or loads the file for a path, one disk operation per path at a time. */
  private lookup(path: string): Promise<Outcome> {
    let p = this.pending.get(path);
    if (p === undefined) {
      p = this.revalidateOrLoad(path).finally(() => this.pending.delete(path));
      this.pending.set(path, p);
    }
    return p;
  }

  private async revalidateOrLoad(path: string): Promise<Outcome> {
    const cached = this.cache.get(path);
    if (cached !== undefined) {
      if (await this.stillValid(cached)) return cached;
      this.remove(cached);
    }
    return this.load(path);
  }

  private async stillValid(entry: Entry): Promise<boolean> {
    const [st, real] = await Promise.all([this.fs.stat(entry.abs), this.fs.realpath(entry.abs)]);
    const same =
      st !== null &&
      st.kind === "file" &&
      real === entry.real &&
      st.size === entry.stat.size &&
      st.mtimeMs === entry.stat.mtimeMs &&
      st.ino === entry.stat.ino;
    if (same) entry.checkedAt = Date.now();
    return same;
  }

  private rootReal(): Promise<string | null> {
    if (this.rootRealPromise === null) {
      this.rootRealPromise = this.fs.realpath(this.root).then((real) => {
        if (real !== null && this.watchEnabled && !this.closed && this.fs.watch) {
          this.watcher = this.fs.watch(real, (rel) => this.invalidate(rel));
        }
        return real === null ? null : real.replaceAll("\\", "/");
      });
    }
    return this.rootRealPromise;
  }

  /** A watcher event: the entries it may concern are checked against the disk on their next request. */
  private invalidate(relative: string | null): void {
    this.generation++;
    if (relative === null) {
      for (const e of this.byFile.values()) e.checkedAt = Number.NEGATIVE_INFINITY;
    } else {
      const changed = "/" + relative;
      const under = changed + "/";
      for (const e of this.byFile.values()) {
        if (
          e.fileRel === changed ||
          e.realRel === changed ||
          e.fileRel.startsWith(under) ||
          e.realRel.startsWith(under)
        ) {
          e.checkedAt = Number.NEGATIVE_INFINITY;
        }
      }
    }
    this.onInvalidate?.(relative);
  }

  private async load(path: string): Promise<Outcome> {
    const generation = this.generation;
    const rootReal = await this.rootReal();
    if (rootReal === null) return NOT_FOUND;
    let fileRel = path;
    if (fileRel.endsWith("/")) {
      if (this.index === null) return NOT_FOUND;
      fileRel += this.index;
    }
    const abs = this.root + fileRel;
    const st = await this.fs.stat(abs);
    if (st === null) return NOT_FOUND;
    if (st.kind === "directory") return path.endsWith("/") ? NOT_FOUND : REDIRECT;
    if (st.kind !== "file") return NOT_FOUND;
    // Symlinks may point anywhere: only their canonical target decides.
    const rawReal = await this.fs.realpath(abs);
    if (rawReal === null) return NOT_FOUND;
    const real = rawReal.replaceAll("\\", "/");
    if (!inside(real, rootReal)) return NOT_FOUND;
    const realRel = real.slice(rootReal.endsWith("/") ? rootReal.length - 1 : rootReal.length);
    if (!this.allowDotfiles && hasDotSegment(realRel)) return NOT_FOUND;

    // Another path already holds this file (`/docs/` and `/docs/index.html`).
    const known = this.byFile.get(abs);
    if (known !== undefined && known.real === rawReal && (await this.stillValid(known))) {
      known.keys.push(path);
      this.cache.set(path, known);
      return known;
    }
    if (known !== undefined) this.remove(known);

    const entry =
      st.size > this.maxCachedFileSize
        ? this.build(path, abs, rawReal, fileRel, realRel, st, null)
        : await this.buildCached(path, abs, rawReal, fileRel, realRel, st);
    if (entry === null) return NOT_FOUND;
    if (this.closed) return entry;
    if (generation !== this.generation) entry.checkedAt = Number.NEGATIVE_INFINITY;
    this.insert(entry);
    return entry;
  }

  private async buildCached(
    path: string,
    abs: string,
    real: string,
    fileRel: string,
    realRel: string,
    st: FileStat,
  ): Promise<Entry | null> {
    let bytes: Uint8Array;
    try {
      bytes = await this.fs.readFile(real);
    } catch {
      return null;
    }
    if (bytes.length > this.maxCachedFileSize) return this.build(path, abs, real, fileRel, realRel, st, null);
    const contentType = contentTypeOf(fileRel);
    let br: Uint8Array | null = null;
    let gz: Uint8Array | null = null;
    if (this.compressor !== null && bytes.length > 0 && isCompressible(contentType)) {
      const limit = bytes.length * 0.9;
      const [b, g] = await Promise.all([this.compressor.brotli(bytes), this.compressor.gzip(bytes)]);
      if (b.length <= limit) br = b;
      if (g.length <= limit) gz = g;
    }
    return this.build(path, abs, real, fileRel, realRel, st, bytes, br, gz, contentType);
  }

  private build(
    path: string,
    abs: string,
    real: string,
    fileRel: string,
    realRel: string,
    st: FileStat,
    bytes: Uint8Array | null,
    br: Uint8Array | null = null,
    gz: Uint8Array | null = null,
    contentType = contentTypeOf(fileRel),
  ): Entry {
    const mtimeSeconds = Math.floor(st.mtimeMs / 1000);
    const lastModified = new Date(mtimeSeconds * 1000).toUTCString();
    const cacheControl = this.cacheControl(path);
    const vary = br !== null || gz !== null;
    const size = bytes === null ? st.size : bytes.length;
    // Strong validators: a content hash for cached files; size and mtime for
    // streamed ones, which are never read whole.
    const tag = bytes === null ? `${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}` : contentTag(bytes);
    const validators: [string, string][] = [["last-modified", lastModified]];
    if (cacheControl !== null) validators.push(["cache-control", cacheControl]);
    if (vary) validators.push(["vary", "accept-encoding"]);
    const variant = (body: Uint8Array | null, etag: string, coding: string | null): Variant => {
      const common: [string, string][] = [["etag", etag], ...validators];
      const headers: ResponseHeaders = Object.freeze([
        ["content-type", contentType],
        ["content-length", String(body === null ? size : body.length)],
        ...(coding === null ? [] : [["content-encoding", coding] as [string, string]]),
        ["accept-ranges", coding === null ? "bytes" : "none"],
        ...common,
      ]);
      return {
        etag,
        ok: Object.freeze({ status: 200, headers, body }),
        head: Object.freeze({ status: 200, headers, body: null }),
        notModified: Object.freeze({ status: 304, headers: Object.freeze(common), body: null }),
      };
    };
    const identity = variant(bytes, `"${tag}"`, null);
    const brv = br === null ? null : variant(br, `"${tag}-br"`, "br");
    const gzv = gz === null ? null : variant(gz, `"${tag}-gz"`, "gzip");
    return {
      keys: [path],
      abs,
      real,
      fileRel,
      realRel,
      stat: st,
      size,
      lastModified,
      mtimeSeconds,
      contentType,
      cacheControl,
      vary,
      bytes,
      identity,
      br: brv,
      gzip: gzv,
      cost: bytes === null ? 256 : size + (br?.length ?? 0) + (gz?.length ?? 0) + 256,
      checkedAt: Date.now(),
      lastUsed: ++this.tick,
    };
  }

  private insert(entry: Entry): void {
    const previous = this.byFile.get(entry.abs);
    if (previous !== undefined) this.remove(previous); // a concurrent load of the same file under another path
    this.cache.set(entry.keys[0]!, entry);
    this.byFile.set(entry.abs, entry);
    this.bytes += entry.cost;
    if (this.bytes <= this.maxCacheBytes) return;
    // Least recently used first; the new entry last of all.
    const victims = [...this.byFile.values()].sort((a, b) => a.lastUsed - b.lastUsed);
    for (const v of victims) {
      if (this.bytes <= this.maxCacheBytes) break;
      if (v !== entry) this.remove(v);
    }
    if (this.bytes > this.maxCacheBytes) this.remove(entry); // larger than the whole cache: served once, not kept
  }

  private remove(entry: Entry): void {
    if (this.byFile.get(entry.abs) !== entry) return;
    this.byFile.delete(entry.abs);
    for (const k of entry.keys) if (this.cache.get(k) === entry) this.cache.delete(k);
    this.bytes -= entry.cost;
  }

  // -------------------------------------------------------------------------

  private preference(header: string | null): EncodingPreference {
    if (header === null) return parseAcceptEncoding(null);
    let p = this.encodings.get(header);
    if (p === undefined) {
      p = parseAcceptEncoding(header);
      if (this.encodings.size >= 256) this.encodings.clear();
      this.encodings.set(header, p);
    }
    return p;
  }

  private respond(entry: Entry, request: StaticRequest, head: boolean): StaticResponse {
    const headers = request.headers;
    let variant = entry.identity;
    if (entry.vary) {
      const coding = chooseCoding(
        this.preference(headerOf(headers, "accept-encoding")),
        entry.br !== null,
        entry.gzip !== null,
      );
      if (coding === "br") variant = entry.br!;
      else if (coding === "gzip") variant = entry.gzip!;
    }
    // RFC 9110 §13.2.2: If-None-Match, and only without it If-Modified-Since.
    const inm = headerOf(headers, "if-none-match");
    if (inm !== null) {
      if (noneMatchHits(inm, variant.etag)) return variant.notModified;
    } else {
      const ims = headerOf(headers, "if-modified-since");
      if (ims !== null && notModifiedSince(ims, entry.lastModified, entry.mtimeSeconds)) return variant.notModified;
    }
    if (!head) {
      const range = headerOf(headers, "range");
      if (range !== null) {
        const partial = this.range(entry, request, range);
        if (partial !== null) return partial;
      }
      if (entry.bytes === null) {
        return { status: 200, headers: variant.ok.headers, body: this.fs.readStream(entry.real, 0, entry.size) };
      }
      return variant.ok;
    }
    return variant.head;
  }

  /** A single byte range of the identity representation (RFC 9110 §14), or null to send it all. */
  private range(entry: Entry, request: StaticRequest, header: string): StaticResponse | null {
    const ifRange = headerOf(request.headers, "if-range");
    if (ifRange !== null) {
      // §13.1.5: a strong comparison with the entity tag, or an exact match of the date.
      if (ifRange.startsWith('"') || ifRange.startsWith("W/")) {
        if (ifRange !== entry.identity.etag) return null;
      } else if (ifRange !== entry.lastModified) {
        return null;
      }
    }
    const r = parseRange(header, entry.size);
    if (r === null) return null;
    const base: [string, string][] = [
      ["etag", entry.identity.etag],
      ["last-modified", entry.lastModified],
    ];
    if (entry.cacheControl !== null) base.push(["cache-control", entry.cacheControl]);
    if (entry.vary) base.push(["vary", "accept-encoding"]);
    if (r === "unsatisfiable") {
      return {
        status: 416,
        headers: [["content-range", `bytes */${entry.size}`], ["content-length", "0"], ...base],
        body: null,
      };
    }
    const length = r.end - r.start + 1;
    return {
      status: 206,
      headers: [
        ["content-type", entry.contentType],
        ["content-length", String(length)],
        ["content-range", `bytes ${r.start}-${r.end}/${entry.size}`],
        ["accept-ranges", "bytes"],
        ...base,
      ],
      body:
        entry.bytes === null
          ? this.fs.readStream(entry.real, r.start, r.end + 1)
          : entry.bytes.subarray(r.start, r.end + 1),
    };
  }

  private redirect(path: string, request: StaticRequest, head: boolean): StaticResponse {
    let mount = request.mount ?? "";
    while (mount.endsWith("/")) mount = mount.slice(0, -1);
    // The path is normalised (one leading slash, no empty segments), so the
    // location cannot become a protocol-relative `//host` URL.
    let location = mount + encodePathForLocation(path) + "/";
    let query = request.query;
    if (query === undefined && request.normalized !== true) {
      const q = request.path.indexOf("?");
      if (q !== -1) query = request.path.slice(q + 1);
    }
    if (query) location += "?" + query;
    const text = encoder.encode(`Moved Permanently: ${location}\n`);
    return {
      status: 301,
      headers: [
        ["location", location],
        ["content-type", "text/plain; charset=utf-8"],
        ["content-length", String(text.length)],
      ],
      body: head ? null : text,
    };
  }
}
