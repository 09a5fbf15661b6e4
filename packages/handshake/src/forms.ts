/**
 * Request body helpers: media types, application/x-www-form-urlencoded,
 * JSON, and streamed multipart/form-data (RFC 7578) with limits on the
 * number and size of parts. Helpers over whole bodies throw `HttpError`;
 * the multipart parser is incremental and returns errors as values.
 */
import { CR, HTAB, LF, SP, TOKEN } from "./chars.ts";
import { HttpError } from "./errors.ts";
import { parseFieldLines } from "./head-parser.ts";
import { HeaderList } from "./headers.ts";

export interface MediaType {
  /** "type/subtype", lower-case. */
  readonly type: string;
  /** Parameters with lower-case names and unquoted values. */
  readonly params: Map<string, string>;
}

/**
 * Parses a Content-Type value (RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter )).
 * Returns undefined when malformed.
 */
export function parseMediaType(value: string): MediaType | undefined {
  const params = new Map<string, string>();
  let i = 0;
  const n = value.length;
  const tok = () => {
    const s = i;
    while (i < n && value.charCodeAt(i) < 0x100 && TOKEN[value.charCodeAt(i)] === 1) i++;
    return value.slice(s, i);
  };
  const ws = () => {
    while (i < n && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
  };
  ws();
  const type = tok();
  if (type === "" || value.charCodeAt(i) !== 0x2f) return undefined;
  i++;
  const sub = tok();
  if (sub === "") return undefined;
  ws();
  while (i < n) {
    if (value.charCodeAt(i) !== 0x3b) return undefined;
    i++;
    ws();
    if (i >= n) break;
    const name = tok().toLowerCase();
    if (name === "" || value.charCodeAt(i) !== 0x3d) return undefined;
    i++;
    let v: string;
    if (value.charCodeAt(i) === 0x22) {
      const q = readQuoted(value, i);
      if (q === undefined) return undefined;
      v = q[0];
      i = q[1];
    } else {
      v = tok();
      if (v === "") return undefined;
    }
    if (!params.has(name)) params.set(name, v);
    ws();
  }
  return { type: (type + "/" + sub).toLowerCase(), params };
}

/** Reads a quoted-string starting at `value[i]` (the opening quote): [unescaped, index after]. */
function readQuoted(value: string, i: number): [string, number] | undefined {
  let out = "";
  i++;
  while (i < value.length) {
    const c = value.charCodeAt(i++);
    if (c === 0x22) return [out, i];
    if (c === 0x5c) {
      if (i >= value.length) return undefined;
      out += value[i++];
    } else out += String.fromCharCode(c);
  }
  return undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * application/x-www-form-urlencoded (WHATWG URL §5): "+" is space,
 * percent-escapes are UTF-8. More than `maxFields` pairs → 413.
 */
export function parseUrlEncoded(body: Uint8Array | string, options: { maxFields?: number } = {}): URLSearchParams {
  let text: string;
  if (typeof body === "string") text = body;
  else {
    try {
      text = utf8.decode(body);
    } catch {
      throw new HttpError("bad-form", "form body is not UTF-8");
    }
  }
  const max = options.maxFields ?? 1000;
  let fields = text.length > 0 ? 1 : 0;
  for (let i = text.indexOf("&"); i !== -1; i = text.indexOf("&", i + 1)) {
    if (++fields > max) throw new HttpError("body-too-large", "too many form fields");
  }
  return new URLSearchParams(text);
}

/** A JSON body (RFC 8259, UTF-8): the value, or `HttpError` 400 for invalid UTF-8 or JSON. */
export function parseJson(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new HttpError("bad-json", "JSON body is not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError("bad-json", "invalid JSON body");
  }
}

export interface MultipartLimits {
  /** Most parts; more → 413. Default 100. */
  maxParts?: number;
  /** Largest part body; larger → 413. Default 1 MiB. */
  maxPartSize?: number;
  /** Largest header section of one part; larger → 413. Default 8192. */
  maxPartHeaderSize?: number;
}

export interface MultipartPart {
  /** The form field name (Content-Disposition name). */
  readonly name: string;
  /** The file name for file fields (Content-Disposition filename* or filename). */
  readonly filename: string | undefined;
  /** The part's Content-Type; "text/plain" when absent (RFC 7578 §4.4). */
  readonly contentType: string;
  readonly headers: HeaderList;
}

export type MultipartEvent =
  | { readonly type: "part"; readonly part: MultipartPart }
  | { readonly type: "data"; readonly data: Uint8Array }
  | { readonly type: "part-end" }
  | { readonly type: "end" };

export type MultipartResult =
  | { readonly kind: "events"; readonly events: MultipartEvent[] }
  | { readonly kind: "error"; readonly error: HttpError };

const M_PREAMBLE = 0;
const M_AFTER_DELIMITER = 1;
const M_PADDING = 2;
const M_HEADERS = 3;
const M_BODY = 4;
const M_END = 5;
const M_FAILED = 6;

/** RFC 2046 §5.1.1 bcharsnospace plus space (not last), 1–70 characters. */
export function isValidBoundary(b: string): boolean {
  if (b.length < 1 || b.length > 70 || b.endsWith(" ")) return false;
  return /^[0-9A-Za-z'()+_,\-./:=? ]+$/.test(b);
}

/**
 * Incremental multipart/form-data parser. Each `push` returns the events
 * found: a part's headers, its data (views into the chunk, or small copies
 * where a delimiter candidate spanned chunks), its end, and the end of the
 * body. Data of the part currently open is streamed; nothing is buffered
 * except a possible partial delimiter and a part's header section.
 */
export class MultipartParser {
  private readonly delimiter: Uint8Array;
  private state = M_PREAMBLE;
  /** Bytes that may begin a delimiter, held over from the previous chunk. */
  private carry: Uint8Array;
  private headerBuf: Uint8Array | null = null;
  private headerLength = 0;
  private afterDelimiter = 0;
  private parts = 0;
  private partSize = 0;
  private readonly maxParts: number;
  private readonly maxPartSize: number;
  private readonly maxHeader: number;
  private error: HttpError | undefined;

  constructor(boundary: string, limits: MultipartLimits = {}) {
    if (!isValidBoundary(boundary)) throw new HttpError("bad-multipart", "invalid multipart boundary");
    this.delimiter = Uint8Array.from("\r\n--" + boundary, (c) => c.charCodeAt(0));
    // The body starts with a delimiter without the CRLF: pretend the CRLF was there.
    this.carry = Uint8Array.of(CR, LF);
    this.maxParts = limits.maxParts ?? 100;
    this.maxPartSize = limits.maxPartSize ?? 1024 * 1024;
    this.maxHeader = limits.maxPartHeaderSize ?? 8192;
  }

  /** A parser for a Content-Type value, or the error (415 when not multipart/form-data, 400 without a boundary). */
  static fromContentType(contentType: string | undefined, limits?: MultipartLimits): MultipartParser | HttpError {
    const media = contentType === undefined ? undefined : parseMediaType(contentType);
    if (media === undefined || media.type !== "multipart/form-data") {
      return new HttpError("unsupported-media-type", "expected multipart/form-data");
    }
    const boundary = media.params.get("boundary");
    if (boundary === undefined || !isValidBoundary(boundary))
      return new HttpError("bad-multipart", "invalid multipart boundary");
    return new MultipartParser(boundary, limits);
  }

  /** True once the close delimiter was read. */
  get done(): boolean {
    return this.state === M_END;
  }

  /** The body ended: an error unless the close delimiter was seen. */
  end(): HttpError | undefined {
    if (this.state === M_END) return undefined;
    if (this.state !== M_FAILED) this.fail("bad-multipart", "multipart body ended early");
    return this.error;
  }

  private fail(code: "bad-multipart" | "too-many-parts" | "part-too-large", message: string): MultipartResult {
    this.state = M_FAILED;
    this.error = new HttpError(code, message);
    return { kind: "error", error: this.error };
  }

  push(chunk: Uint8Array): MultipartResult {
    if (this.state === M_FAILED) return { kind: "error", error: this.error! };
    const events: MultipartEvent[] = [];
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      const state = this.state;
      if (state === M_PREAMBLE || state === M_BODY) {
        const r = this.search(chunk, i, events);
        if (r === -2) return { kind: "error", error: this.error! };
        if (r === -1) break; // everything consumed, maybe a carry held
        i = r;
        if (state === M_BODY) events.push({ type: "part-end" });
        this.state = M_AFTER_DELIMITER;
        this.afterDelimiter = 0;
        continue;
      }
      if (state === M_AFTER_DELIMITER) {
        // RFC 2046 §5.1.1: "--" closes; otherwise optional padding then CRLF.
        const c = chunk[i]!;
        if (this.afterDelimiter === 0) {
          if (c === 0x2d) {
            this.afterDelimiter = 1;
            i++;
            continue;
          }
          this.state = M_PADDING;
          continue;
        }
        if (c !== 0x2d) return this.fail("bad-multipart", "malformed close delimiter");
        i++;
        this.state = M_END;
        events.push({ type: "end" });
        continue;
      }
      if (state === M_PADDING) {
        const c = chunk[i++]!;
        if (this.afterDelimiter !== 2 && (c === SP || c === HTAB)) continue;
        if (c === CR && this.afterDelimiter !== 2) {
          this.afterDelimiter = 2;
          continue;
        }
        if (c === LF && this.afterDelimiter === 2) {
          if (++this.parts > this.maxParts) return this.fail("too-many-parts", "too many multipart parts");
          this.state = M_HEADERS;
          this.headerLength = 0;
          continue;
        }
        return this.fail("bad-multipart", "malformed multipart delimiter line");
      }
      if (state === M_HEADERS) {
        const r = this.headerBytes(chunk, i, events);
        if (r === -2) return { kind: "error", error: this.error! };
        i = r;
        continue;
      }
      // M_END: the epilogue is ignored (RFC 2046 §5.1.1).
      i = len;
    }
    return { kind: "events", events };
  }

  /** Collects a part's header section; returns the next index or -2. */
  private headerBytes(buf: Uint8Array, i: number, events: MultipartEvent[]): number {
    let hb = this.headerBuf;
    while (i < buf.length) {
      if (this.headerLength >= this.maxHeader) {
        this.fail("part-too-large", "multipart part headers too large");
        return -2;
      }
      if (hb === null || this.headerLength === hb.length) {
        const grown = new Uint8Array(Math.min(this.maxHeader, Math.max(256, this.headerLength * 2)));
        if (hb !== null) grown.set(hb);
        this.headerBuf = hb = grown;
      }
      const c = buf[i++]!;
      const n = this.headerLength++;
      hb[n] = c;
      if (c !== LF) continue;
      if (n === 0 || hb[n - 1] !== CR) {
        this.fail("bad-multipart", "part header line ends in LF without CR");
        return -2;
      }
      const lineStart = n === 1 ? 0 : hb.lastIndexOf(LF, n - 1) + 1;
      if (lineStart !== n - 1) continue;
      // Blank line: the header section is complete.
      const headers = new HeaderList([], [], []);
      if (n > 1) {
        const e = parseFieldLines(hb, 0, n + 1, headers);
        if (e !== null) {
          this.fail("bad-multipart", "invalid part header: " + e.message);
          return -2;
        }
      }
      this.headerBuf = null;
      const part = describePart(headers);
      if (part === undefined) {
        this.fail("bad-multipart", "part without Content-Disposition: form-data; name");
        return -2;
      }
      events.push({ type: "part", part });
      this.state = M_BODY;
      this.partSize = 0;
      return i;
    }
    return i;
  }

  /**
   * Looks for the delimiter from `buf[i]`, emitting data before it (in the
   * body state). Returns the index after the delimiter, -1 when the chunk is
   * used up (a possible partial delimiter kept in `carry`), -2 on error.
   */
  private search(buf: Uint8Array, i: number, events: MultipartEvent[]): number {
    const d = this.delimiter;
    const dl = d.length;
    const len = buf.length;
    const carry = this.carry;
    if (carry.length > 0) {
      this.carry = EMPTY;
      // Does a delimiter start inside the carried bytes?
      for (let k = 0; k < carry.length; k++) {
        if (carry[k] !== CR) continue;
        let m = 0;
        let ok = true;
        for (; m < dl; m++) {
          const pos = k + m;
          const b = pos < carry.length ? carry[pos] : i + pos - carry.length < len ? buf[i + pos - carry.length] : -1;
          if (b === -1) break;
          if (b !== d[m]) {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
        if (this.emit(carry.subarray(0, k), events)) return -2;
        if (m === dl) return i + dl - (carry.length - k);
        // Still a prefix when the chunk ran out: carry it all.
        const rest = new Uint8Array(carry.length - k + (len - i));
        rest.set(carry.subarray(k), 0);
        rest.set(buf.subarray(i), carry.length - k);
        this.carry = rest;
        return -1;
      }
      if (this.emit(carry, events)) return -2;
    }
    let p = i;
    while (p < len) {
      const cr = buf.indexOf(CR, p);
      if (cr === -1) break;
      let m = 1;
      while (m < dl && cr + m < len && buf[cr + m] === d[m]) m++;
      if (m === dl) {
        if (this.emit(buf.subarray(i, cr), events)) return -2;
        return cr + dl;
      }
      if (cr + m === len) {
        // A partial delimiter at the end of the chunk.
        if (this.emit(buf.subarray(i, cr), events)) return -2;
        this.carry = buf.slice(cr);
        return -1;
      }
      p = cr + 1;
    }
    if (this.emit(buf.subarray(i, len), events)) return -2;
    return -1;
  }

  /** Emits part data (preamble bytes are dropped); true on a size error. */
  private emit(data: Uint8Array, events: MultipartEvent[]): boolean {
    if (this.state !== M_BODY || data.length === 0) return false;
    this.partSize += data.length;
    if (this.partSize > this.maxPartSize) {
      this.fail("part-too-large", "multipart part too large");
      return true;
    }
    events.push({ type: "data", data });
    return false;
  }
}

const EMPTY = new Uint8Array(0);
const lenient = new TextDecoder("utf-8");

/** Browsers send UTF-8 bytes in names and filenames; the head parser read them as latin1. */
function fromLatin1Utf8(s: string): string {
  let high = false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) high = true;
  if (!high) return s;
  return lenient.decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
}

/** RFC 7578 §4.2: Content-Disposition: form-data; name="…"[; filename="…"]. */
function describePart(headers: HeaderList): MultipartPart | undefined {
  const cd = headers.first("content-disposition");
  if (cd === undefined) return undefined;
  const m = /^[ \t]*form-data[ \t]*(;.*)?$/is.exec(cd);
  if (m === null) return undefined;
  const media = parseMediaType("x/y" + (m[1] ?? ""));
  if (media === undefined) return undefined;
  const name = media.params.get("name");
  if (name === undefined) return undefined;
  let filename = media.params.get("filename");
  const extended = media.params.get("filename*");
  if (extended !== undefined) {
    // RFC 8187: charset'language'percent-encoded.
    const m = /^utf-8'[^']*'(.*)$/i.exec(extended);
    if (m !== null) {
      try {
        filename = decodeURIComponent(m[1]!);
      } catch {}
    }
  } else if (filename !== undefined) filename = fromLatin1Utf8(filename);
  return {
    name: fromLatin1Utf8(name),
    filename,
    contentType: headers.first("content-type") ?? "text/plain",
    headers,
  };
}

/** One whole part, for `parseMultipart`. */
export interface MultipartField extends MultipartPart {
  readonly data: Uint8Array;
}

/** Parses a whole multipart/form-data body held in memory; throws `HttpError`. */
export function parseMultipart(body: Uint8Array, boundary: string, limits?: MultipartLimits): MultipartField[] {
  const parser = new MultipartParser(boundary, limits);
  const r = parser.push(body);
  if (r.kind === "error") throw r.error;
  const e = parser.end();
  if (e !== undefined) throw e;
  const out: MultipartField[] = [];
  let current: MultipartPart | undefined;
  let chunks: Uint8Array[] = [];
  for (const ev of r.events) {
    if (ev.type === "part") {
      current = ev.part;
      chunks = [];
    } else if (ev.type === "data") chunks.push(ev.data);
    else if (ev.type === "part-end" && current !== undefined) {
      let n = 0;
      for (const c of chunks) n += c.length;
      const data = new Uint8Array(n);
      let o = 0;
      for (const c of chunks) {
        data.set(c, o);
        o += c.length;
      }
      out.push({ ...current, data });
      current = undefined;
    }
  }
  return out;
}
