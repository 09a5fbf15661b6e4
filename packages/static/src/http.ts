/**
 * The HTTP pieces of static serving: request and response descriptions,
 * Accept-Encoding negotiation (RFC 9110 §12.5.3), entity-tag comparison
 * (§8.8.3.2), If-Modified-Since (§13.1.3) and single byte ranges (§14).
 *
 * @module
 */

/** Request headers: anything with `get(name)` (a `Headers`, the handshake's request), or a record with lower-case keys. */
export type RequestHeaders =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What the static site needs to know about a request. */
export interface StaticRequest {
  readonly method: string;
  /** The path below the site root: raw (percent-encoded, may carry `?query`) unless `normalized` is set. */
  readonly path: string;
  readonly headers: RequestHeaders;
  /** The path already went through `normalizePath` (e.g. the router's `rest`): do not decode it again. */
  readonly normalized?: boolean;
  /** The query string without `?`, kept on a trailing-slash redirect. */
  readonly query?: string;
  /** The URL path prefix the site is mounted under (`/static` for a `/static/*` route), for redirect locations. */
  readonly mount?: string;
}

/** A response header list; the arrays of cached responses are shared and must not be mutated. */
export type ResponseHeaders = ReadonlyArray<readonly [string, string]>;

/** What to send. `content-length` is always set; `body` is null for HEAD, 304 and other empty answers. */
export interface StaticResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly body: Uint8Array | AsyncIterable<Uint8Array> | null;
}

/** Reads one request header (null when absent); several record values are joined with ", ". */
export function headerOf(headers: RequestHeaders, name: string): string | null {
  const get = (headers as { get?: unknown }).get;
  if (typeof get === "function") return (get.call(headers, name) as string | null | undefined) ?? null;
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name];
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}

/** q-values for the codings we have, from an Accept-Encoding header. */
export interface EncodingPreference {
  readonly br: number;
  readonly gzip: number;
  readonly identity: number;
}

const IDENTITY_ONLY: EncodingPreference = Object.freeze({ br: 0, gzip: 0, identity: 1 });

/**
 * Parses Accept-Encoding. Absent → identity only. `*` stands for every coding
 * not listed; identity is acceptable unless `identity;q=0` (or `*;q=0`
 * without identity), ranked below the codings the client listed unless it
 * gives identity a q-value itself. Malformed q-values drop their element.
 */
export function parseAcceptEncoding(header: string | null): EncodingPreference {
  if (header === null || header === "") return IDENTITY_ONLY;
  let br = -1;
  let gzip = -1;
  let identity = -1;
  let star = -1;
  for (const part of header.split(",")) {
    const semi = part.indexOf(";");
    const coding = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    let q = 1;
    if (semi !== -1) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(part.slice(semi + 1));
      if (m === null) continue;
      q = Number(m[1]);
      if (q > 1) continue;
    }
    if (coding === "br") br = q;
    else if (coding === "gzip" || coding === "x-gzip") gzip = q;
    else if (coding === "identity") identity = q;
    else if (coding === "*") star = q;
  }
  return {
    br: br !== -1 ? br : star !== -1 ? star : 0,
    gzip: gzip !== -1 ? gzip : star !== -1 ? star : 0,
    // Not listed: acceptable, but after every coding the client did list.
    identity: identity !== -1 ? identity : star !== -1 ? star : 0.0001,
  };
}

/** The content codings the cache keeps. */
export type Coding = "br" | "gzip" | "identity";

/**
 * Picks the coding to send among those available: highest q, ties to the
 * smaller body (br, gzip, identity). When nothing acceptable is available the
 * answer is identity (RFC 9110 §12.5.3 lets a server send an unencoded
 * response rather than a 406).
 */
export function chooseCoding(pref: EncodingPreference, hasBrotli: boolean, hasGzip: boolean): Coding {
  let best: Coding = "identity";
  let bestQ = pref.identity;
  if (hasGzip && pref.gzip > 0 && pref.gzip >= bestQ) {
    best = "gzip";
    bestQ = pref.gzip;
  }
  if (hasBrotli && pref.br > 0 && pref.br >= bestQ) best = "br";
  return best;
}

/** If-None-Match: `*`, or one of the listed tags equals `etag` under weak comparison (§13.1.2). */
export function noneMatchHits(header: string, etag: string): boolean {
  if (header === etag) return true;
  for (const raw of header.split(",")) {
    let tag = raw.trim();
    if (tag === "*") return true;
    if (tag.startsWith("W/")) tag = tag.slice(2);
    if (tag === etag) return true;
  }
  return false;
}

/** If-Modified-Since: true when the file is not newer than the date (whole seconds). */
export function notModifiedSince(header: string, lastModified: string, mtimeSeconds: number): boolean {
  if (header === lastModified) return true;
  const t = Date.parse(header);
  return !Number.isNaN(t) && mtimeSeconds * 1000 <= t;
}

/** A parsed Range header against a length: `[start, end]` inclusive, or unsatisfiable. */
export type RangeResult = { readonly start: number; readonly end: number } | "unsatisfiable";

const DIGITS = /^\d+$/;

/**
 * Parses a Range header for one byte range. Returns null when the header is
 * to be ignored (not bytes, malformed, or several ranges: RFC 9110 §14.2 lets
 * a server ignore Range and send the whole representation).
 */
export function parseRange(header: string, length: number): RangeResult | null {
  const eq = header.indexOf("=");
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return null;
  const spec = header.slice(eq + 1).trim();
  if (spec.includes(",")) return null;
  const dash = spec.indexOf("-");
  if (dash === -1) return null;
  const first = spec.slice(0, dash).trim();
  const last = spec.slice(dash + 1).trim();
  if (first === "") {
    // suffix range: the last N bytes
    if (!DIGITS.test(last)) return null;
    const n = Number(last);
    if (n === 0 || length === 0) return "unsatisfiable";
    return { start: Math.max(0, length - n), end: length - 1 };
  }
  if (!DIGITS.test(first)) return null;
  const start = Number(first);
  let end = length - 1;
  if (last !== "") {
    if (!DIGITS.test(last)) return null;
    end = Number(last);
    if (end < start) return null;
    if (end > length - 1) end = length - 1;
  }
  if (start >= length) return "unsatisfiable";
  return { start, end };
}
