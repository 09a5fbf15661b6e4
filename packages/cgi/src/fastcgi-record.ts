/**
 * FastCGI 1.0 records: a pure encoder and an incremental decoder.
 *
 * Web-standard APIs only (no Buffer, no node: imports), so the codec can be
 * tested and fuzzed without sockets. The decoder accepts bytes in any
 * chunking; it never throws on bad input: it moves to a failed state and
 * reports a typed {@link FcgiProtocolError}.
 *
 * @module
 */
import { decodeNameValuePairs, encodeNameValuePairs, type NameValuePair } from "./fastcgi-params.ts";

/** FastCGI spec §8: record types. */
export const FCGI = {
  VERSION_1: 1,
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
  /** Roles (§5.1). */
  RESPONDER: 1,
  AUTHORIZER: 2,
  FILTER: 3,
  /** BEGIN_REQUEST flags. */
  KEEP_CONN: 1,
  /** END_REQUEST protocol statuses (§5.5). */
  REQUEST_COMPLETE: 0,
  CANT_MPX_CONN: 1,
  OVERLOADED: 2,
  UNKNOWN_ROLE: 3,
  HEADER_LEN: 8,
  MAX_CONTENT: 65535,
} as const;

export type FcgiRecord =
  | { type: "begin-request"; requestId: number; role: number; flags: number }
  | { type: "abort-request"; requestId: number }
  | { type: "end-request"; requestId: number; appStatus: number; protocolStatus: number }
  | { type: "params" | "stdin" | "stdout" | "stderr" | "data"; requestId: number; data: Uint8Array }
  | { type: "get-values" | "get-values-result"; requestId: 0; pairs: NameValuePair[] }
  | { type: "unknown-type"; requestId: number; unknownType: number }
  /** A record type this codec does not know (spec §4.2: answer with UNKNOWN_TYPE). */
  | { type: "other"; recordType: number; requestId: number; data: Uint8Array };

export type FcgiErrorCode = "bad-version" | "bad-length" | "bad-name-value" | "bad-request-id";

/** A protocol violation found by the decoder: a value with a code and a reason. */
export class FcgiProtocolError extends Error {
  override readonly name = "FcgiProtocolError";
  constructor(
    readonly code: FcgiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const STREAM_TYPES: Record<number, "params" | "stdin" | "stdout" | "stderr" | "data"> = {
  [FCGI.PARAMS]: "params",
  [FCGI.STDIN]: "stdin",
  [FCGI.STDOUT]: "stdout",
  [FCGI.STDERR]: "stderr",
  [FCGI.DATA]: "data",
};

const EMPTY = new Uint8Array(0);

function header(
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
  out: Uint8Array,
  at = 0,
) {
  out[at] = FCGI.VERSION_1;
  out[at + 1] = type;
  out[at + 2] = (requestId >> 8) & 0xff;
  out[at + 3] = requestId & 0xff;
  out[at + 4] = (contentLength >> 8) & 0xff;
  out[at + 5] = contentLength & 0xff;
  out[at + 6] = paddingLength;
  out[at + 7] = 0;
}

/** One record; content must be at most 65535 bytes. Padded to a multiple of 8 (spec §3.3 recommends it). */
export function encodeRecord(type: number, requestId: number, content: Uint8Array = EMPTY): Uint8Array {
  if (content.length > FCGI.MAX_CONTENT) throw new RangeError("FastCGI record content exceeds 65535 bytes");
  const padding = (8 - (content.length & 7)) & 7;
  const out = new Uint8Array(8 + content.length + padding);
  header(type, requestId, content.length, padding, out);
  out.set(content, 8);
  return out;
}

/**
 * A stream (PARAMS, STDIN, STDOUT, STDERR, DATA) split into records of at most
 * 65535 content bytes, in one buffer. An empty `data` encodes the stream's end record.
 */
export function encodeStream(type: number, requestId: number, data: Uint8Array): Uint8Array {
  if (data.length <= FCGI.MAX_CONTENT) return encodeRecord(type, requestId, data);
  // 65528 = largest multiple of 8 below 65536: whole records need no padding.
  const step = 65528;
  const full = Math.floor(data.length / step);
  const rest = data.length - full * step;
  const restPad = (8 - (rest & 7)) & 7;
  const out = new Uint8Array(full * (8 + step) + (rest > 0 ? 8 + rest + restPad : 0));
  let at = 0;
  for (let i = 0; i < full; i++) {
    header(type, requestId, step, 0, out, at);
    out.set(data.subarray(i * step, (i + 1) * step), at + 8);
    at += 8 + step;
  }
  if (rest > 0) {
    header(type, requestId, rest, restPad, out, at);
    out.set(data.subarray(full * step), at + 8);
  }
  return out;
}

export function encodeBeginRequest(requestId: number, role: number = FCGI.RESPONDER, flags = 0): Uint8Array {
  const body = new Uint8Array(8);
  body[0] = (role >> 8) & 0xff;
  body[1] = role & 0xff;
  body[2] = flags & 0xff;
  return encodeRecord(FCGI.BEGIN_REQUEST, requestId, body);
}

export function encodeAbortRequest(requestId: number): Uint8Array {
  return encodeRecord(FCGI.ABORT_REQUEST, requestId);
}

export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Uint8Array {
  const body = new Uint8Array(8);
  new DataView(body.buffer).setUint32(0, appStatus >>> 0);
  body[4] = protocolStatus & 0xff;
  return encodeRecord(FCGI.END_REQUEST, requestId, body);
}

/** PARAMS for a request, including the terminating empty PARAMS record. */
export function encodeParams(requestId: number, pairs: Iterable<NameValuePair>): Uint8Array {
  const content = encodeNameValuePairs(pairs);
  const stream = content.length > 0 ? encodeStream(FCGI.PARAMS, requestId, content) : EMPTY;
  const end = encodeRecord(FCGI.PARAMS, requestId);
  const out = new Uint8Array(stream.length + end.length);
  out.set(stream);
  out.set(end, stream.length);
  return out;
}

/** Bytes {@link encodeStream} produces for `n` content bytes (0 for none). */
function streamSize(n: number): number {
  if (n <= FCGI.MAX_CONTENT) return n === 0 ? 0 : 8 + n + ((8 - (n & 7)) & 7);
  const full = Math.floor(n / 65528);
  const rest = n - full * 65528;
  return full * (8 + 65528) + (rest > 0 ? 8 + rest + ((8 - (rest & 7)) & 7) : 0);
}

/** Writes `data` as records of `type` at `at` (as {@link encodeStream}); returns the end offset. */
function writeStream(out: Uint8Array, at: number, type: number, requestId: number, data: Uint8Array): number {
  // Same records as encodeStream: one when it fits, else 65528-byte ones (no padding) and the rest.
  const step = data.length <= FCGI.MAX_CONTENT ? FCGI.MAX_CONTENT : 65528;
  for (let from = 0; from < data.length; ) {
    const len = Math.min(step, data.length - from);
    const pad = (8 - (len & 7)) & 7;
    header(type, requestId, len, pad, out, at);
    out.set(data.subarray(from, from + len), at + 8);
    at += 8 + len + pad;
    from += len;
  }
  return at;
}

/**
 * A whole request head in one buffer: BEGIN_REQUEST, the PARAMS stream and its
 * terminating empty record, then — when `stdin` is given (`null`: no body) — the
 * STDIN stream and its empty record. `stdin` undefined: the body follows as
 * separate STDIN records.
 */
export function encodeRequest(
  requestId: number,
  role: number,
  flags: number,
  pairs: Iterable<NameValuePair>,
  stdin?: Uint8Array | null,
): Uint8Array {
  const params = encodeNameValuePairs(pairs);
  const bodyLen = stdin === undefined ? 0 : streamSize(stdin?.length ?? 0) + 8;
  const out = new Uint8Array(16 + streamSize(params.length) + 8 + bodyLen);
  header(FCGI.BEGIN_REQUEST, requestId, 8, 0, out, 0);
  out[8] = (role >> 8) & 0xff;
  out[9] = role & 0xff;
  out[10] = flags & 0xff;
  let at = writeStream(out, 16, FCGI.PARAMS, requestId, params);
  header(FCGI.PARAMS, requestId, 0, 0, out, at);
  at += 8;
  if (stdin !== undefined) {
    if (stdin !== null) at = writeStream(out, at, FCGI.STDIN, requestId, stdin);
    header(FCGI.STDIN, requestId, 0, 0, out, at);
  }
  return out;
}

/** A management query (spec §4.1): names only, empty values. */
export function encodeGetValues(names: Iterable<string>): Uint8Array {
  const pairs: NameValuePair[] = [];
  for (const n of names) pairs.push([n, ""]);
  return encodeRecord(FCGI.GET_VALUES, 0, encodeNameValuePairs(pairs));
}

export function encodeGetValuesResult(pairs: Iterable<NameValuePair>): Uint8Array {
  return encodeRecord(FCGI.GET_VALUES_RESULT, 0, encodeNameValuePairs(pairs));
}

export function encodeUnknownType(type: number): Uint8Array {
  const body = new Uint8Array(8);
  body[0] = type & 0xff;
  return encodeRecord(FCGI.UNKNOWN_TYPE, 0, body);
}

export interface DecodeResult {
  records: FcgiRecord[];
  /** Set once the input broke the protocol; the decoder ignores everything after it. */
  error: FcgiProtocolError | null;
}

/**
 * Incremental record decoder. Content that lies inside one pushed chunk is
 * handed out as a view of that chunk (no copy); only records that span chunks
 * are assembled into a new buffer. Consumers that keep `data` beyond the
 * current callback must copy it if they reuse the pushed buffers.
 */
export class FcgiDecoder {
  private readonly head = new Uint8Array(8);
  private headLen = 0;
  private content: Uint8Array | null = null;
  private contentLen = 0;
  private type = 0;
  private requestId = 0;
  private want = 0; // content bytes of the current record
  private padding = 0; // padding bytes still to skip
  private failed: FcgiProtocolError | null = null;

  get error(): FcgiProtocolError | null {
    return this.failed;
  }

  push(chunk: Uint8Array): DecodeResult {
    const records: FcgiRecord[] = [];
    if (this.failed) return { records, error: this.failed };
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.padding > 0) {
        const skip = Math.min(this.padding, n - i);
        this.padding -= skip;
        i += skip;
        continue;
      }
      if (this.content === null) {
        // Reading a header. Fast path: whole header inside this chunk.
        if (this.headLen === 0 && n - i >= 8) {
          this.startRecord(chunk, i);
          i += 8;
        } else {
          const take = Math.min(8 - this.headLen, n - i);
          this.head.set(chunk.subarray(i, i + take), this.headLen);
          this.headLen += take;
          i += take;
          if (this.headLen < 8) break;
          this.headLen = 0;
          this.startRecord(this.head, 0);
        }
        if (this.failed) return { records, error: this.failed };
        if (this.want === 0) {
          this.finish(EMPTY, records);
          if (this.failed) return { records, error: this.failed };
          continue;
        }
        // Fast path: whole content inside this chunk — a view, no copy.
        if (n - i >= this.want) {
          const data = chunk.subarray(i, i + this.want);
          i += this.want;
          this.finish(data, records);
          if (this.failed) return { records, error: this.failed };
          continue;
        }
        this.content = new Uint8Array(this.want);
        this.contentLen = 0;
      }
      const take = Math.min(this.want - this.contentLen, n - i);
      this.content.set(chunk.subarray(i, i + take), this.contentLen);
      this.contentLen += take;
      i += take;
      if (this.contentLen === this.want) {
        const data = this.content;
        this.content = null;
        this.finish(data, records);
        if (this.failed) return { records, error: this.failed };
      }
    }
    return { records, error: null };
  }

  private startRecord(h: Uint8Array, at: number) {
    if (h[at] !== FCGI.VERSION_1) {
      this.failed = new FcgiProtocolError("bad-version", `FastCGI record version ${h[at]}, expected 1`);
      return;
    }
    this.type = h[at + 1]!;
    this.requestId = (h[at + 2]! << 8) | h[at + 3]!;
    this.want = (h[at + 4]! << 8) | h[at + 5]!;
    // Padding is skipped after the content (set once the content is complete).
    this.pendingPadding = h[at + 6]!;
  }

  private pendingPadding = 0;

  private finish(data: Uint8Array, records: FcgiRecord[]) {
    this.padding = this.pendingPadding;
    this.pendingPadding = 0;
    const id = this.requestId;
    const type = this.type;
    const stream = STREAM_TYPES[type];
    if (stream !== undefined) {
      records.push({ type: stream, requestId: id, data });
      return;
    }
    switch (type) {
      case FCGI.BEGIN_REQUEST:
        // Spec §5.1: FCGI_BeginRequestBody is exactly 8 bytes.
        if (!this.fixed(data, 8, "BEGIN_REQUEST") || !this.appRecord(id, "BEGIN_REQUEST")) return;
        records.push({ type: "begin-request", requestId: id, role: (data[0]! << 8) | data[1]!, flags: data[2]! });
        return;
      case FCGI.ABORT_REQUEST:
        if (!this.fixed(data, 0, "ABORT_REQUEST") || !this.appRecord(id, "ABORT_REQUEST")) return;
        records.push({ type: "abort-request", requestId: id });
        return;
      case FCGI.END_REQUEST:
        if (!this.fixed(data, 8, "END_REQUEST") || !this.appRecord(id, "END_REQUEST")) return;
        records.push({
          type: "end-request",
          requestId: id,
          appStatus: ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0,
          protocolStatus: data[4]!,
        });
        return;
      case FCGI.GET_VALUES:
      case FCGI.GET_VALUES_RESULT: {
        // Spec §4.1: management records carry request id 0.
        if (id !== 0) {
          this.failed = new FcgiProtocolError("bad-request-id", `management record with request id ${id}`);
          return;
        }
        const pairs = decodeNameValuePairs(data);
        if (pairs === null) {
          this.failed = new FcgiProtocolError("bad-name-value", "malformed name-value pairs in a management record");
          return;
        }
        records.push({ type: type === FCGI.GET_VALUES ? "get-values" : "get-values-result", requestId: 0, pairs });
        return;
      }
      case FCGI.UNKNOWN_TYPE:
        if (!this.fixed(data, 8, "UNKNOWN_TYPE")) return;
        records.push({ type: "unknown-type", requestId: id, unknownType: data[0]! });
        return;
      default:
        records.push({ type: "other", recordType: type, requestId: id, data });
    }
  }

  private fixed(data: Uint8Array, len: number, what: string): boolean {
    if (data.length === len) return true;
    this.failed = new FcgiProtocolError("bad-length", `${what} content is ${data.length} bytes, expected ${len}`);
    return false;
  }

  private appRecord(id: number, what: string): boolean {
    if (id !== 0) return true;
    this.failed = new FcgiProtocolError("bad-request-id", `${what} with request id 0 (reserved for management)`);
    return false;
  }
}
