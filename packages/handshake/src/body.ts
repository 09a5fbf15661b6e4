/**
 * Request bodies (RFC 9112 §6–§7): an incremental decoder for
 * Content-Length and chunked bodies with a size limit, and the chunked
 * encoder for responses. Decoded data is handed out as views into the pushed
 * chunks (no copies); a caller that keeps data past the next read of its
 * transport must copy it.
 */
import { CR, HTAB, LF, SP, TOKEN } from "./chars.ts";
import { HttpError, type HttpErrorCode } from "./errors.ts";
import { parseFieldLines } from "./head-parser.ts";
import { HeaderList } from "./headers.ts";
import type { BodyKind, RequestHead } from "./request-head.ts";

export interface BodyLimits {
  /** Largest body accepted; larger → 413. Default 1 MiB. */
  maxBodySize?: number;
  /** Longest chunk-size line with its extensions; longer → 400. Default 4096. */
  maxChunkLineSize?: number;
  /** Largest trailer section; larger → 431. Default 16384. */
  maxTrailerSize?: number;
  /** Most trailer fields; more → 431. Default 100. */
  maxTrailers?: number;
}

export const DEFAULT_BODY_LIMITS: Readonly<Required<BodyLimits>> = Object.freeze({
  maxBodySize: 1024 * 1024,
  maxChunkLineSize: 4096,
  maxTrailerSize: 16384,
  maxTrailers: 100,
});

export interface BodyData {
  readonly kind: "body";
  /** Body bytes found in this push, as views into the pushed chunk. */
  readonly chunks: Uint8Array[];
  /** Bytes of the pushed chunk used by the body; the rest is the next request. */
  readonly consumed: number;
  /** The body is complete. */
  readonly done: boolean;
}
export interface BodyFailed {
  readonly kind: "error";
  readonly error: HttpError;
}
export type BodyResult = BodyData | BodyFailed;

// Decoder states.
const S_DONE = 0;
const S_LENGTH = 1;
const S_SIZE = 2; // hex digits of a chunk size
const S_EXT = 3; // after the size: BWS and chunk extensions up to CR
const S_SIZE_LF = 4;
const S_DATA = 5;
const S_DATA_CR = 6;
const S_DATA_LF = 7;
const S_TRAILER = 8;
const S_FAILED = 9;

const EMPTY: Uint8Array[] = [];

export class BodyDecoder {
  private state: number;
  private remaining: number;
  private received = 0;
  private sizeDigits = 0;
  private lineLength = 0;
  private ext = "";
  private trailerBuf: Uint8Array | null = null;
  private trailerLength = 0;
  private readonly max: number;
  private readonly maxLine: number;
  private readonly maxTrailer: number;
  private readonly maxTrailers: number;
  /** Trailer fields of a chunked body, once it is done (undefined if there were none). */
  trailers: HeaderList | undefined;
  /** The error, once the body was rejected (set at construction when the declared length is over the limit). */
  error: HttpError | undefined;

  constructor(kind: BodyKind, contentLength: number, limits: BodyLimits = {}) {
    this.max = limits.maxBodySize ?? DEFAULT_BODY_LIMITS.maxBodySize;
    this.maxLine = limits.maxChunkLineSize ?? DEFAULT_BODY_LIMITS.maxChunkLineSize;
    this.maxTrailer = limits.maxTrailerSize ?? DEFAULT_BODY_LIMITS.maxTrailerSize;
    this.maxTrailers = limits.maxTrailers ?? DEFAULT_BODY_LIMITS.maxTrailers;
    this.trailers = undefined;
    this.error = undefined;
    this.remaining = 0;
    if (kind === "chunked") this.state = S_SIZE;
    else if (kind === "length" && contentLength > 0) {
      this.state = S_LENGTH;
      this.remaining = contentLength;
      // Known too large before a byte arrives: answer 413 now (and skip 100-continue).
      if (contentLength > this.max) this.fail("body-too-large", "request body too large");
    } else this.state = S_DONE;
  }

  /** A decoder for the body that follows `head`. */
  static forRequest(head: RequestHead, limits?: BodyLimits): BodyDecoder {
    return new BodyDecoder(head.bodyKind, head.contentLength, limits);
  }

  get done(): boolean {
    return this.state === S_DONE;
  }

  /** Body bytes decoded so far. */
  get size(): number {
    return this.received;
  }

  private fail(code: HttpErrorCode, message: string): BodyFailed {
    this.state = S_FAILED;
    this.error = new HttpError(code, message);
    return { kind: "error", error: this.error };
  }

  /** The peer closed the connection: an error if the body was not complete. */
  end(): HttpError | undefined {
    if (this.state === S_DONE || this.state === S_FAILED) return this.error;
    this.fail("truncated-body", "connection closed before the body was complete");
    return this.error;
  }

  /** Decodes the next bytes. */
  push(chunk: Uint8Array): BodyResult {
    const state = this.state;
    if (state === S_FAILED) return { kind: "error", error: this.error! };
    if (state === S_DONE) return { kind: "body", chunks: EMPTY, consumed: 0, done: true };
    if (state === S_LENGTH) {
      const n = Math.min(this.remaining, chunk.length);
      this.remaining -= n;
      this.received += n;
      if (this.remaining === 0) this.state = S_DONE;
      const chunks = n === 0 ? EMPTY : [n === chunk.length ? chunk : chunk.subarray(0, n)];
      return { kind: "body", chunks, consumed: n, done: this.remaining === 0 };
    }
    return this.chunked(chunk);
  }

  /** RFC 9112 §7.1: chunked-body = *chunk last-chunk trailer-section CRLF. */
  private chunked(buf: Uint8Array): BodyResult {
    const chunks: Uint8Array[] = [];
    const len = buf.length;
    let i = 0;
    let state = this.state;
    while (i < len && state !== S_DONE) {
      switch (state) {
        case S_SIZE: {
          const c = buf[i]!;
          const h = hexValue(c);
          if (h !== -1) {
            if (++this.lineLength > this.maxLine) return this.fail("bad-chunk", "chunk size line too long");
            this.remaining = this.remaining * 16 + h;
            this.sizeDigits++;
            // Beyond 2^53 the size cannot be represented: refuse (smuggling guard).
            if (this.remaining > Number.MAX_SAFE_INTEGER)
              return this.fail("chunk-size-overflow", "chunk size too large");
            if (this.received + this.remaining > this.max) return this.fail("body-too-large", "request body too large");
            i++;
            break;
          }
          if (this.sizeDigits === 0) return this.fail("bad-chunk", "missing chunk size");
          state = S_EXT;
          break;
        }
        case S_EXT: {
          const c = buf[i++]!;
          if (c === CR) {
            if (this.ext !== "" && !validChunkExtensions(this.ext))
              return this.fail("bad-chunk", "invalid chunk extension");
            this.ext = "";
            state = S_SIZE_LF;
            break;
          }
          if (++this.lineLength > this.maxLine) return this.fail("bad-chunk", "chunk extensions too long");
          if (c === LF) return this.fail("bad-chunk", "chunk size line ends in LF without CR");
          this.ext += String.fromCharCode(c);
          break;
        }
        case S_SIZE_LF: {
          if (buf[i++] !== LF) return this.fail("bad-chunk", "CR without LF after chunk size");
          this.lineLength = 0;
          this.sizeDigits = 0;
          if (this.remaining === 0) {
            state = S_TRAILER;
            this.trailerLength = 0;
          } else state = S_DATA;
          break;
        }
        case S_DATA: {
          const n = Math.min(this.remaining, len - i);
          chunks.push(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          this.received += n;
          if (this.remaining === 0) state = S_DATA_CR;
          break;
        }
        case S_DATA_CR:
          if (buf[i++] !== CR) return this.fail("bad-chunk", "chunk data not followed by CRLF");
          state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (buf[i++] !== LF) return this.fail("bad-chunk", "chunk data not followed by CRLF");
          state = S_SIZE;
          break;
        case S_TRAILER: {
          const c = buf[i++]!;
          const r = this.trailerByte(c);
          if (r !== null) return r;
          if (this.state === S_DONE) state = S_DONE;
          break;
        }
      }
    }
    if (this.state !== S_FAILED) this.state = state;
    return { kind: "body", chunks, consumed: i, done: state === S_DONE };
  }

  /** Collects the trailer section byte by byte (it is rare and short), then parses it like a head. */
  private trailerByte(c: number): BodyFailed | null {
    if (this.trailerLength >= this.maxTrailer) return this.fail("trailer-too-large", "trailer section too large");
    let tb = this.trailerBuf;
    if (tb === null || this.trailerLength === tb.length) {
      const grown = new Uint8Array(Math.min(this.maxTrailer, Math.max(64, this.trailerLength * 2)));
      if (tb !== null) grown.set(tb);
      this.trailerBuf = tb = grown;
    }
    const n = this.trailerLength;
    tb[n] = c;
    this.trailerLength = n + 1;
    if (c !== LF) return null;
    if (n === 0 || tb[n - 1] !== CR) return this.fail("bad-trailer", "trailer line ends in LF without CR");
    // An empty line (just CRLF) ends the section.
    const lineStart = tb.lastIndexOf(LF, n - 1) + 1;
    if (lineStart !== n - 1) {
      let fields = 0;
      for (let k = 0; k <= n; k++) if (tb[k] === LF) fields++;
      if (fields > this.maxTrailers) return this.fail("trailer-too-large", "too many trailer fields");
      return null;
    }
    if (n > 1) {
      const list = new HeaderList([], [], []);
      const e = parseFieldLines(tb, 0, n + 1, list);
      if (e !== null) {
        this.state = S_FAILED;
        this.error = new HttpError("bad-trailer", "invalid trailer field: " + e.message);
        return { kind: "error", error: this.error };
      }
      this.trailers = list;
    }
    this.trailerBuf = null;
    this.state = S_DONE;
    return null;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
 * ext-val = token / quoted-string. `s` is everything between the size and CR.
 */
export function validChunkExtensions(s: string): boolean {
  let i = 0;
  const n = s.length;
  const ws = () => {
    while (i < n && (s.charCodeAt(i) === SP || s.charCodeAt(i) === HTAB)) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && s.charCodeAt(i) < 0x100 && TOKEN[s.charCodeAt(i)] === 1) i++;
    return i > start;
  };
  ws();
  while (i < n) {
    if (s.charCodeAt(i) !== 0x3b) return false;
    i++;
    ws();
    if (!token()) return false;
    ws();
    if (i < n && s.charCodeAt(i) === 0x3d) {
      i++;
      ws();
      if (i < n && s.charCodeAt(i) === 0x22) {
        i++;
        let closed = false;
        while (i < n) {
          const c = s.charCodeAt(i++);
          if (c === 0x22) {
            closed = true;
            break;
          }
          if (c === 0x5c) {
            if (i >= n) return false;
            const e = s.charCodeAt(i++);
            if (e !== HTAB && (e < 0x20 || e === 0x7f)) return false;
          } else if (c !== HTAB && (c < 0x20 || c === 0x7f)) return false;
        }
        if (!closed) return false;
      } else if (!token()) return false;
      ws();
    }
  }
  return true;
}

const encoder = new TextEncoder();
const CRLF_BYTES = new Uint8Array([CR, LF]);

/** The size line of a chunk of `size` bytes ("1a2\r\n"). Send it, the data, then `CRLF`. */
export function chunkHeader(size: number): Uint8Array {
  return encoder.encode(size.toString(16) + "\r\n");
}

/** The CRLF that closes every chunk's data. */
export const CRLF: Uint8Array = CRLF_BYTES;

/** One chunk as a single buffer: size line, data, CRLF. Empty data gives an empty buffer (an empty chunk would end the body). */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const head = chunkHeader(data.length);
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head, 0);
  out.set(data, head.length);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** The last chunk with no trailers: "0\r\n\r\n". */
export const LAST_CHUNK: Uint8Array = encoder.encode("0\r\n\r\n");

/** The last chunk followed by trailer fields (names must be tokens; values free of CR, LF, NUL). */
export function lastChunk(trailers: Iterable<readonly [string, string]> = []): Uint8Array {
  let s = "0\r\n";
  for (const [n, v] of trailers) {
    if (!isFieldName(n) || /[\r\n\0]/.test(v)) throw new TypeError("invalid trailer field " + JSON.stringify(n));
    s += n + ": " + v + "\r\n";
  }
  return encoder.encode(s + "\r\n");
}

function isFieldName(n: string): boolean {
  if (n.length === 0) return false;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) return false;
  }
  return true;
}

/**
 * Decodes a whole body held in memory (for tests and small bodies): the
 * concatenated data, or the error. Bytes after the body are ignored.
 */
export function decodeBody(
  kind: BodyKind,
  contentLength: number,
  bytes: Uint8Array,
  limits?: BodyLimits,
): Uint8Array | HttpError {
  const decoder = new BodyDecoder(kind, contentLength, limits);
  if (decoder.error !== undefined) return decoder.error;
  const r = decoder.push(bytes);
  if (r.kind === "error") return r.error;
  if (!r.done) return decoder.end()!;
  return concat(r.chunks);
}

/** Concatenates byte arrays into one (returns the only element unchanged when there is one). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
