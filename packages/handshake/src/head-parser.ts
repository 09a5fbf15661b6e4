/**
 * Incremental, strict HTTP/1.1 head parsing (RFC 9112 §2–§6) over bytes.
 *
 * `push(chunk)` answers "need more", a parsed head plus how many bytes of
 * that chunk it used, or an `HttpError`. It never throws on any input.
 *
 * Performance: a head that arrives in one chunk is parsed in place, with no
 * copy and no whole-head string; only a head split across reads is copied
 * into a spill buffer (like uWebSockets' HttpParser.h), which is dropped once
 * the head is complete so an idle connection holds no buffer. Line ends are
 * found with the native `indexOf`; bytes are classified through lookup
 * tables; common header names and methods reuse constant strings.
 */
import {
  COLON,
  CR,
  FIELD_VALUE,
  HOST,
  HTAB,
  LF,
  latin1,
  listHasToken,
  lowerAscii,
  SCHEME,
  SP,
  TARGET,
  TOKEN,
} from "./chars.ts";
import { HttpError, type HttpErrorCode } from "./errors.ts";
import { HeaderList } from "./headers.ts";
import * as names from "./names.ts";
import { type BodyKind, RequestHead, type TargetForm } from "./request-head.ts";

/** Limits of the head parser. Each overrun has its own status. */
export interface HeadLimits {
  /** Longest request line (or status line) without CRLF; longer → 414. Default 8192. */
  maxRequestLineSize?: number;
  /** Largest head including every CRLF; larger → 431. Default 16384. */
  maxHeadSize?: number;
  /** Most header field lines; more → 431. Default 100. */
  maxHeaders?: number;
}

export const DEFAULT_HEAD_LIMITS: Readonly<Required<HeadLimits>> = Object.freeze({
  maxRequestLineSize: 8192,
  maxHeadSize: 16384,
  maxHeaders: 100,
});

export interface NeedMore {
  readonly kind: "need-more";
}
export interface HeadParsed<T> {
  readonly kind: "head";
  readonly head: T;
  /**
   * Bytes of the chunk just pushed that belonged to the head. The rest,
   * `chunk.subarray(consumed)`, is the body or the next pipelined request.
   */
  readonly consumed: number;
}
export interface HeadFailed {
  readonly kind: "error";
  readonly error: HttpError;
}
export type HeadResult<T> = NeedMore | HeadParsed<T> | HeadFailed;

/** The one "need more" value (compare `result.kind`, or identity with this). */
export const NEED_MORE: NeedMore = Object.freeze({ kind: "need-more" });

const fail = (code: HttpErrorCode, message: string): HeadFailed => ({
  kind: "error",
  error: new HttpError(code, message),
});

const SCAN_MORE = -1;
const SCAN_ERROR = -2;

/** Shared machinery for request and response heads: finding the end, enforcing limits, buffering splits. */
abstract class HeadParser<T> {
  protected readonly maxLine: number;
  protected readonly maxHead: number;
  protected readonly maxFields: number;
  private spill: Uint8Array | null = null;
  private spillLength = 0;
  /** Where scanning resumes (an index into the spill when buffering). */
  private pos = 0;
  private lineStart = 0;
  private firstStart = -1;
  private firstEnd = -1;
  private fields = 0;
  private failed: HeadFailed | null = null;
  private scanError: HeadFailed | null = null;

  constructor(limits: HeadLimits = {}) {
    this.maxLine = limits.maxRequestLineSize ?? DEFAULT_HEAD_LIMITS.maxRequestLineSize;
    this.maxHead = limits.maxHeadSize ?? DEFAULT_HEAD_LIMITS.maxHeadSize;
    this.maxFields = limits.maxHeaders ?? DEFAULT_HEAD_LIMITS.maxHeaders;
  }

  /** Bytes of a partial head held between pushes (0 when idle). */
  get buffered(): number {
    return this.spillLength;
  }

  /** Forgets any partial head and any error (the parser is reusable for the next head). */
  reset(): void {
    this.spill = null;
    this.spillLength = 0;
    this.pos = 0;
    this.lineStart = 0;
    this.firstStart = -1;
    this.firstEnd = -1;
    this.fields = 0;
    this.failed = null;
    this.scanError = null;
  }

  /**
   * Feeds the next bytes. After a "head" result the parser is ready for the
   * next head; after an "error" it keeps answering that error until `reset()`.
   */
  push(chunk: Uint8Array): HeadResult<T> {
    if (this.failed !== null) return this.failed;
    let buf: Uint8Array;
    let len: number;
    let base: number;
    if (this.spill === null) {
      const quick = this.fast(chunk);
      if (quick !== null) return quick;
      buf = chunk;
      len = chunk.length;
      base = 0;
    } else {
      base = this.spillLength;
      // Never hold more than the head limit (plus one byte to see the overrun).
      const take = Math.min(chunk.length, this.maxHead + 1 - base);
      if (take > 0) {
        if (base + take > this.spill.length) {
          const grown = new Uint8Array(Math.min(this.maxHead + 1, Math.max(base + take, this.spill.length * 2)));
          grown.set(this.spill.subarray(0, base));
          this.spill = grown;
        }
        this.spill.set(take === chunk.length ? chunk : chunk.subarray(0, take), base);
      }
      this.spillLength = base + Math.max(take, 0);
      buf = this.spill;
      len = this.spillLength;
    }
    const end = this.scan(buf, len);
    if (end === SCAN_MORE) {
      if (this.spill === null && len > 0) {
        this.spill = new Uint8Array(Math.min(this.maxHead + 1, Math.max(len * 2, 1024)));
        this.spill.set(chunk);
        this.spillLength = len;
      }
      return NEED_MORE;
    }
    if (end === SCAN_ERROR) return this.fail(this.scanError!);
    const first = this.firstStart;
    const firstEnd = this.firstEnd;
    const result = this.parse(buf, first, firstEnd, end);
    const consumed = end - base;
    // Ready for the next head; the spill (if any) is dropped with it.
    this.spill = null;
    this.spillLength = 0;
    this.pos = 0;
    this.lineStart = 0;
    this.firstStart = -1;
    this.firstEnd = -1;
    this.fields = 0;
    if (result instanceof HttpError) return this.fail({ kind: "error", error: result });
    return { kind: "head", head: result, consumed };
  }

  private fail(result: HeadFailed): HeadFailed {
    this.failed = result;
    this.spill = null;
    this.spillLength = 0;
    return result;
  }

  /** Optimistic single-pass parse of a head that starts at buf[0]; null to take the exact path. */
  protected fast(_buf: Uint8Array): HeadParsed<T> | HeadFailed | null {
    return null;
  }

  /** Parses a complete head: first line at [first, firstEnd) (firstEnd is its CR), head ends at `end`. */
  protected abstract parse(buf: Uint8Array, first: number, firstEnd: number, end: number): T | HttpError;

  /**
   * Finds the end of the head in `buf[0, len)`, checking limits and line
   * endings as lines complete. Returns the index after the blank line,
   * SCAN_MORE, or SCAN_ERROR (with `scanError` set).
   */
  private scan(buf: Uint8Array, len: number): number {
    const maxHead = this.maxHead;
    // Look at no more than the head limit, whatever the chunk holds.
    const view = len > maxHead ? buf.subarray(0, maxHead) : len < buf.length ? buf.subarray(0, len) : buf;
    const limit = view.length;
    let pos = this.pos;
    let lineStart = this.lineStart;
    while (pos < limit) {
      const i = view.indexOf(LF, pos);
      if (i === -1) break;
      if (i === lineStart || view[i - 1] !== CR) {
        this.scanError = fail("bare-lf", "line ends in LF without CR");
        return SCAN_ERROR;
      }
      const contentEnd = i - 1;
      if (this.firstStart === -1) {
        if (contentEnd === lineStart) {
          // RFC 9112 §2.2: empty lines before the request line are ignored.
        } else if (contentEnd - lineStart > this.maxLine) {
          this.scanError = fail("request-line-too-long", "request line too long");
          return SCAN_ERROR;
        } else {
          this.firstStart = lineStart;
          this.firstEnd = contentEnd;
        }
      } else if (contentEnd === lineStart) {
        return i + 1;
      } else if (++this.fields > this.maxFields) {
        this.scanError = fail("too-many-headers", "too many header fields");
        return SCAN_ERROR;
      }
      lineStart = i + 1;
      pos = i + 1;
    }
    this.pos = limit;
    this.lineStart = lineStart;
    if (this.firstStart === -1 && limit - lineStart > this.maxLine + 1) {
      this.scanError = fail("request-line-too-long", "request line too long");
      return SCAN_ERROR;
    }
    if (len >= maxHead) {
      this.scanError = fail("head-too-large", "request head too large");
      return SCAN_ERROR;
    }
    return SCAN_MORE;
  }
}

// Field-line scratch, shared by every parser: parsing is synchronous, so the
// offsets of one head are written and read within one call. Offsets are
// kept instead of strings so the head is decoded to a string only once.
let capacity = 0;
let fNameStart = new Int32Array(0);
let fNameEnd = new Int32Array(0);
let fValueStart = new Int32Array(0);
let fValueEnd = new Int32Array(0);
let fCode = new Int32Array(0);
let fCount = 0;
/** OR of every value byte: < 0x80 means the head is pure ASCII. */
let fHigh = 0;
let fError: HttpError | null = null;

function grow(n: number): void {
  const size = Math.max(n, capacity * 2, 32);
  const copy = (a: Int32Array) => {
    const b = new Int32Array(size);
    b.set(a);
    return b;
  };
  fNameStart = copy(fNameStart);
  fNameEnd = copy(fNameEnd);
  fValueStart = copy(fValueStart);
  fValueEnd = copy(fValueEnd);
  fCode = copy(fCode);
  capacity = size;
}

const NEED = -1;
const ERR = -2;

/** In exact mode records the error and answers ERR; in optimistic mode answers NEED (fall back). */
function failAt(exact: boolean, code: HttpErrorCode, message: string): number {
  if (!exact) return NEED;
  fError = new HttpError(code, message);
  return ERR;
}

/**
 * Validates field lines from `p` up to and including the blank line,
 * recording offsets. Exact mode: the head is known to end by `end`, so any
 * problem is the error to answer. Optimistic mode (a head in one chunk,
 * end unknown): any problem or running out of bytes answers NEED and the
 * caller falls back to the exact path, which decides the outcome.
 * Returns the index after the blank line, NEED or ERR.
 */
function scanFields(buf: Uint8Array, p: number, end: number, maxFields: number, exact: boolean): number {
  // Locals for the tables and counters: module-level bindings cost a check on every access in hot loops.
  const token = TOKEN;
  const fieldValue = FIELD_VALUE;
  let count = 0;
  let high = 0;
  for (;;) {
    if (p >= end) return fieldsFail(count, high, exact, "bad-header-name", "truncated header section");
    let c = buf[p]!;
    if (c === CR) {
      fCount = count;
      fHigh = high;
      if (p + 1 >= end) return failAt(exact, "bare-cr", "CR without LF");
      if (buf[p + 1] === LF) return p + 2;
      return failAt(exact, "bare-cr", "CR without LF in the header section");
    }
    // RFC 9112 §5.2: obs-fold is rejected with 400.
    if (c === SP || c === HTAB) return fieldsFail(count, high, exact, "obs-fold", "obsolete line folding");
    const ns = p;
    while (p < end && token[buf[p]!] === 1) p++;
    // RFC 9112 §5.1: no whitespace between field name and colon.
    if (p >= end || p === ns || buf[p] !== COLON) {
      return fieldsFail(count, high, exact, "bad-header-name", "invalid header field name");
    }
    const ne = p++;
    while (p < end && (buf[p] === SP || buf[p] === HTAB)) p++;
    const vs = p;
    while (p < end) {
      c = buf[p]!;
      if (fieldValue[c] !== 1) break;
      high |= c;
      p++;
    }
    if (p >= end) return fieldsFail(count, high, exact, "bad-header-value", "truncated header field");
    c = buf[p]!;
    if (c !== CR) {
      return c === LF
        ? fieldsFail(count, high, exact, "bare-lf", "line ends in LF without CR")
        : fieldsFail(count, high, exact, "bad-header-value", "invalid character in header field value");
    }
    if (p + 1 >= end || buf[p + 1] !== LF)
      return fieldsFail(count, high, exact, "bare-cr", "CR without LF in a header field");
    let ve = p;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    if (count >= maxFields) return fieldsFail(count, high, exact, "too-many-headers", "too many header fields");
    if (count === capacity) grow(count + 1);
    fNameStart[count] = ns;
    fNameEnd[count] = ne;
    fValueStart[count] = vs;
    fValueEnd[count] = ve;
    fCode[count] = names.lookupName(buf, ns, ne);
    count++;
    p += 2;
  }
}

function fieldsFail(count: number, high: number, exact: boolean, code: HttpErrorCode, message: string): number {
  fCount = count;
  fHigh = high;
  return failAt(exact, code, message);
}

const asciiDecoder = new TextDecoder();

/** The head bytes as one string (one decode; every field is a slice of it). */
function decodeRange(buf: Uint8Array, start: number, end: number): string {
  if (end <= start) return "";
  return fHigh < 0x80 ? asciiDecoder.decode(buf.subarray(start, end)) : latin1(buf, start, end);
}

/**
 * Stores the recorded fields into `headers` from index `o` on, slicing names
 * and values out of `str` (which starts at `base`). A request head's lists
 * come presized (o = 0): cheaper than growing three empty arrays push by push.
 */
function buildFields(str: string, base: number, headers: HeaderList, o: number): void {
  const lowers = headers.names;
  const raws = headers.rawNames;
  const values = headers.values;
  for (let i = 0; i < fCount; i++) {
    const code = fCode[i]!;
    let lower: string;
    let raw: string;
    if (code >= 0) {
      const k = code >> 2;
      lower = names.KNOWN_LOWER[k]!;
      const spelling = code & 3;
      raw =
        spelling === 0
          ? names.KNOWN_CANONICAL[k]!
          : spelling === 1
            ? lower
            : str.slice(fNameStart[i]! - base, fNameEnd[i]! - base);
    } else {
      raw = str.slice(fNameStart[i]! - base, fNameEnd[i]! - base);
      lower = lowerAscii(raw);
    }
    lowers[o + i] = lower;
    raws[o + i] = raw;
    values[o + i] = str.slice(fValueStart[i]! - base, fValueEnd[i]! - base);
  }
}

/**
 * Parses the field lines between `from` and the blank line ending at `end`
 * into `headers` (exact mode). Returns an error or null. Used for trailers
 * and multipart part headers.
 */
export function parseFieldLines(buf: Uint8Array, from: number, end: number, headers: HeaderList): HttpError | null {
  const r = scanFields(buf, from, end, 0x7fffffff, true);
  if (r === ERR) return fError;
  if (r !== end) return new HttpError("bad-header-name", "header section does not end where expected");
  const last = fCount > 0 ? fValueEnd[fCount - 1]! : from;
  buildFields(decodeRange(buf, from, last), from, headers, headers.names.length);
  return null;
}

const err = (code: HttpErrorCode, message: string) => new HttpError(code, message);

function validHost(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || HOST[c] !== 1) return false;
  }
  return true;
}

function validHostBytes(buf: Uint8Array, start: number, end: number): boolean {
  const host = HOST;
  for (let i = start; i < end; i++) if (host[buf[i]!] !== 1) return false;
  return true;
}

/**
 * RFC 9110 §8.6: Content-Length = 1*DIGIT. A list of identical values (from
 * repeated fields or "5, 5") is one value; differing values, signs, blanks
 * or values beyond 2^53 are rejected (request smuggling guard).
 * `all` is every value, each followed by ",".
 */
function parseContentLength(all: string): number | HttpError {
  let result = -1;
  let i = 0;
  const n = all.length;
  while (i < n) {
    while (i < n && (all.charCodeAt(i) === SP || all.charCodeAt(i) === HTAB)) i++;
    if (i < n && all.charCodeAt(i) === 0x2c) {
      i++;
      continue;
    }
    let v = 0;
    let digits = 0;
    while (i < n) {
      const c = all.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      digits++;
      i++;
    }
    while (i < n && (all.charCodeAt(i) === SP || all.charCodeAt(i) === HTAB)) i++;
    if (digits === 0 || (i < n && all.charCodeAt(i) !== 0x2c))
      return err("bad-content-length", "invalid Content-Length");
    if (v > Number.MAX_SAFE_INTEGER) return err("bad-content-length", "Content-Length too large");
    if (result !== -1 && result !== v) return err("conflicting-content-length", "differing Content-Length values");
    result = v;
    i++;
  }
  if (result === -1) return err("bad-content-length", "empty Content-Length");
  return result;
}

const HTTP_ = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** Reads "HTTP/d.d" at buf[p, p + 8): returns major*10+minor, -1 if malformed. */
function readVersion(buf: Uint8Array, p: number, end: number): number {
  if (end - p !== 8) return -1;
  for (let k = 0; k < 5; k++) if (buf[p + k] !== HTTP_[k]) return -1;
  const major = buf[p + 5]! - 0x30;
  const dot = buf[p + 6];
  const minor = buf[p + 7]! - 0x30;
  if (major < 0 || major > 9 || dot !== 0x2e || minor < 0 || minor > 9) return -1;
  return major * 10 + minor;
}

// Request-line offsets from the last scanRequestLine call.
let rlMethodEnd = 0;
let rlTargetStart = 0;
let rlTargetEnd = 0;
let rlLineEnd = 0;
let rlMinor = 0;

/**
 * RFC 9112 §3: request-line = method SP request-target SP HTTP-version CRLF.
 * Returns the index after the CRLF, NEED or ERR (see scanFields for modes).
 */
function scanRequestLine(buf: Uint8Array, a: number, end: number, exact: boolean): number {
  let p = a;
  while (p < end && TOKEN[buf[p]!] === 1) p++;
  if (p === a || p >= end || buf[p] === CR) return failAt(exact, "bad-request-line", "malformed request line");
  if (buf[p] !== SP) return failAt(exact, "bad-method", "invalid method");
  rlMethodEnd = p;
  const ts = ++p;
  while (p < end && TARGET[buf[p]!] === 1) p++;
  if (p === ts) return failAt(exact, "bad-request-line", "malformed request line");
  if (p >= end || buf[p] !== SP) return failAt(exact, "bad-target", "invalid request target");
  rlTargetStart = ts;
  rlTargetEnd = p++;
  // The version is exactly 8 bytes, then CRLF.
  if (p + 10 > end || buf[p + 8] !== CR) {
    if (!exact) return NEED;
    return failAt(exact, "bad-version", "malformed HTTP version");
  }
  const v = readVersion(buf, p, p + 8);
  if (v === -1) return failAt(exact, "bad-version", "malformed HTTP version");
  if (v !== 11 && v !== 10) return failAt(exact, "version-not-supported", "HTTP version not supported");
  if (buf[p + 9] !== LF) return failAt(exact, "bare-cr", "CR without LF");
  rlMinor = v - 10;
  rlLineEnd = p + 8;
  return p + 10;
}

/** Options of the request parser. */
export interface RequestParserOptions extends HeadLimits {}

/**
 * Incremental request-head parser for one connection. Feed it every byte
 * that is not body; see the README for driving keep-alive and pipelining.
 * A head that arrives whole in one chunk is parsed in a single optimistic
 * pass; anything unusual (a split head, an error) takes the exact path.
 */
export class RequestParser extends HeadParser<RequestHead> {
  protected override fast(buf: Uint8Array): HeadParsed<RequestHead> | HeadFailed | null {
    const limit = Math.min(buf.length, this.maxHead);
    const line = scanRequestLine(buf, 0, limit, false);
    if (line < 0 || rlLineEnd > this.maxLine) return null;
    const end = scanFields(buf, line, limit, this.maxFields, false);
    if (end < 0) return null;
    const head = finishRequest(buf, 0, end);
    if (head instanceof HttpError) return null;
    return { kind: "head", head, consumed: end };
  }

  protected parse(buf: Uint8Array, a: number, b: number, end: number): RequestHead | HttpError {
    const line = scanRequestLine(buf, a, b + 2, true);
    if (line === ERR) return fError!;
    const fields = scanFields(buf, line, end, this.maxFields, true);
    if (fields === ERR) return fError!;
    return finishRequest(buf, a, end);
  }
}

/** Builds the head from the offsets of the last scans, checking Host, target form and body framing. */
function finishRequest(buf: Uint8Array, base: number, headEnd: number): RequestHead | HttpError {
  const last = fCount > 0 ? fValueEnd[fCount - 1]! : rlLineEnd;
  // A chunk that is exactly the head (a handshake's usual read) is decoded without a subarray view.
  const str =
    base === 0 && headEnd === buf.length && fHigh < 0x80 ? asciiDecoder.decode(buf) : decodeRange(buf, base, last);
  const method = names.internMethod(buf, base, rlMethodEnd) ?? str.slice(0, rlMethodEnd - base);
  const ts = rlTargetStart;
  const te = rlTargetEnd;
  const target = str.slice(ts - base, te - base);
  const minor = rlMinor;
  const n = fCount;
  const headers = new HeaderList(new Array<string>(n), new Array<string>(n), new Array<string>(n));
  buildFields(str, base, headers, 0);

  // Target forms (RFC 9112 §3.2).
  let form: TargetForm;
  let path: string;
  let rawQuery = "";
  let authority: string | undefined;
  const c0 = buf[ts];
  if (c0 === 0x2f) {
    form = "origin";
    const q = target.indexOf("?");
    if (q === -1) path = target;
    else {
      path = target.slice(0, q);
      rawQuery = target.slice(q + 1);
    }
  } else if (method === "CONNECT") {
    // RFC 9112 §3.2.3: authority-form, only for CONNECT.
    if (!validHost(target) || target.length === 0) return err("bad-target", "invalid authority-form target");
    form = "authority";
    path = "";
    authority = target;
  } else if (c0 === 0x2a && te - ts === 1) {
    // RFC 9112 §3.2.4: asterisk-form, only for OPTIONS.
    if (method !== "OPTIONS") return err("bad-target", "asterisk-form is only for OPTIONS");
    form = "asterisk";
    path = "*";
  } else {
    // RFC 9112 §3.2.2: absolute-form, scheme "://" authority path-abempty [ "?" query ].
    let s = ts;
    const lc = buf[s]! | 0x20;
    if (lc < 0x61 || lc > 0x7a) return err("bad-target", "invalid request target");
    while (s < te && SCHEME[buf[s]!] === 1) s++;
    if (te - s < 3 || buf[s] !== COLON || buf[s + 1] !== 0x2f || buf[s + 2] !== 0x2f) {
      return err("bad-target", "invalid request target");
    }
    const as = s + 3 - ts;
    let ae = as;
    while (ae < target.length) {
      const c = target.charCodeAt(ae);
      if (c === 0x2f || c === 0x3f) break;
      ae++;
    }
    authority = target.slice(as, ae);
    if (authority.length === 0 || !validHost(authority)) return err("bad-target", "invalid authority in target");
    form = "absolute";
    const rest = target.slice(ae);
    const q = rest.indexOf("?");
    path = q === -1 ? rest : rest.slice(0, q);
    if (q !== -1) rawQuery = rest.slice(q + 1);
    if (path === "") path = "/";
  }

  // The fields the parser acts on.
  let hostCount = 0;
  let hostValue = "";
  let hostField = -1;
  let contentLengthValue = "";
  let transferEncodingValue = "";
  let connectionValue = "";
  let upgradeValue = "";
  let expectValue = "";
  const values = headers.values;
  for (let i = 0; i < fCount; i++) {
    const code = fCode[i]!;
    if (code < 0) continue;
    const id = names.KNOWN_ID[code >> 2]!;
    if (id === names.H_OTHER) continue;
    const value = values[i]!;
    switch (id) {
      case names.H_HOST:
        hostCount++;
        hostValue = value;
        hostField = i;
        break;
      case names.H_CONTENT_LENGTH:
        contentLengthValue += value + ",";
        break;
      case names.H_TRANSFER_ENCODING:
        transferEncodingValue = transferEncodingValue === "" ? value : transferEncodingValue + "," + value;
        break;
      case names.H_CONNECTION:
        connectionValue = connectionValue === "" ? value : connectionValue + "," + value;
        break;
      case names.H_UPGRADE:
        upgradeValue = upgradeValue === "" ? value : upgradeValue + "," + value;
        break;
      case names.H_EXPECT:
        expectValue = value;
        break;
    }
  }

  // RFC 9112 §3.2: Host is required in HTTP/1.1, at most once, and valid.
  if (hostCount > 1) return err("duplicate-host", "more than one Host field");
  if (hostCount === 0 && minor === 1) return err("missing-host", "missing Host field");
  // Checked on the bytes: cheaper than charCodeAt on a string sliced out of the head.
  if (hostCount === 1 && !validHostBytes(buf, fValueStart[hostField]!, fValueEnd[hostField]!)) {
    return err("bad-host", "invalid Host field");
  }
  const host = authority ?? (hostCount === 1 ? hostValue : undefined);

  // Body framing, RFC 9112 §6.1–§6.3, with the request smuggling guards.
  let bodyKind: BodyKind = "none";
  let contentLength = 0;
  if (transferEncodingValue !== "") {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (minor === 0) return err("transfer-encoding-http10", "Transfer-Encoding in an HTTP/1.0 request");
    // RFC 9112 §6.3: both present is a smuggling attempt; reject rather than guess.
    if (contentLengthValue !== "") {
      return err("content-length-with-transfer-encoding", "both Content-Length and Transfer-Encoding");
    }
    const codings = transferEncodingValue.split(",");
    let seen = 0;
    for (let k = 0; k < codings.length; k++) {
      const coding = codings[k]!.trim();
      if (coding === "") continue;
      seen++;
      if (coding.length === 7 && coding.toLowerCase() === "chunked") {
        // chunked must be the final coding and applied once (RFC 9112 §6.1, §7).
        for (let r = k + 1; r < codings.length; r++) {
          if (codings[r]!.trim() !== "")
            return err("bad-transfer-encoding", "chunked is not the final transfer coding");
        }
      } else {
        for (let m = 0; m < coding.length; m++) {
          const c = coding.charCodeAt(m);
          if (c > 0xff || TOKEN[c] !== 1) return err("bad-transfer-encoding", "invalid Transfer-Encoding");
        }
        return err("unsupported-transfer-encoding", "transfer coding not implemented");
      }
    }
    if (seen === 0) return err("bad-transfer-encoding", "empty Transfer-Encoding");
    bodyKind = "chunked";
    contentLength = -1;
  } else if (contentLengthValue !== "") {
    const length = parseContentLength(contentLengthValue);
    if (typeof length !== "number") return length;
    contentLength = length;
    bodyKind = length > 0 ? "length" : "none";
  }

  // RFC 9112 §9.3: persistence.
  let keepAlive = minor === 1;
  let upgrade = false;
  if (connectionValue !== "") {
    upgrade = listHasToken(connectionValue, "upgrade");
    // "Connection: Upgrade" alone (every handshake) lists neither close nor keep-alive.
    if (!upgrade || connectionValue.length !== 7) {
      const close = listHasToken(connectionValue, "close");
      keepAlive = !close && (minor === 1 || listHasToken(connectionValue, "keep-alive"));
    }
  }
  upgrade = upgrade && upgradeValue !== "";
  const expectContinue = expectValue !== "" && expectValue.toLowerCase() === "100-continue";
  return new RequestHead(
    method,
    target,
    form,
    path,
    rawQuery,
    minor,
    headers,
    host,
    keepAlive,
    upgrade,
    expectContinue,
    bodyKind,
    contentLength,
  );
}

/** A parsed response head (client side: the WebSocket handshake answer). */
export interface ResponseHead {
  readonly version: "HTTP/1.1" | "HTTP/1.0";
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderList;
}

/** Incremental response-head parser (status-line, RFC 9112 §4), same limits and guarantees. */
export class ResponseParser extends HeadParser<ResponseHead> {
  protected parse(buf: Uint8Array, a: number, b: number, end: number): ResponseHead | HttpError {
    const v = readVersion(buf, a, Math.min(b, a + 8));
    if (v !== 10 && v !== 11) return err("bad-status-line", "malformed status line");
    let p = a + 8;
    if (buf[p] !== SP || b - p < 4) return err("bad-status-line", "malformed status line");
    let status = 0;
    for (let k = 1; k <= 3; k++) {
      const d = buf[p + k]! - 0x30;
      if (d < 0 || d > 9) return err("bad-status-line", "malformed status code");
      status = status * 10 + d;
    }
    p += 4;
    let statusText = "";
    if (p < b) {
      if (buf[p] !== SP) return err("bad-status-line", "malformed status line");
      for (let k = p + 1; k < b; k++) {
        if (FIELD_VALUE[buf[k]!] !== 1) return err("bad-status-line", "invalid reason phrase");
      }
      statusText = latin1(buf, p + 1, b);
    }
    const headers = new HeaderList([], [], []);
    const fieldError = parseFieldLines(buf, b + 2, end, headers);
    if (fieldError !== null) return fieldError;
    return { version: v === 11 ? "HTTP/1.1" : "HTTP/1.0", status, statusText, headers };
  }
}

/** Parses one complete request head from `bytes` (convenience over `RequestParser`). */
export function parseRequest(bytes: Uint8Array, limits?: HeadLimits): HeadResult<RequestHead> {
  return new RequestParser(limits).push(bytes);
}

/** Parses one complete response head from `bytes`. */
export function parseResponse(bytes: Uint8Array, limits?: HeadLimits): HeadResult<ResponseHead> {
  return new ResponseParser(limits).push(bytes);
}
