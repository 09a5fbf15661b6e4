/**
 * Response heads (RFC 9112 §4, §6): status line, validated header fields,
 * body framing chosen from what is known, Date and Connection handled.
 */
import { TOKEN } from "./chars.ts";
import { defaultHttpDate, type HttpDate } from "./date.ts";
import { statusText } from "./status.ts";

/** Header fields to send: pairs (order kept, repeats allowed) or a record (arrays repeat a field). */
export type HeadersInit =
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | number | readonly string[]>>;

/** What the response writer needs to know about the request it answers. */
export interface RequestInfo {
  readonly method: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  readonly keepAlive: boolean;
}

export interface ResponseHeadInit {
  status: number;
  /** Reason phrase; defaults to the standard one for `status`. */
  statusText?: string;
  headers?: HeadersInit;
  /**
   * Body length in bytes. When undefined the length is unknown: the body is
   * sent chunked to HTTP/1.1 clients and delimited by closing the connection
   * for HTTP/1.0 clients (RFC 9112 §6.3). A Content-Length or
   * Transfer-Encoding field in `headers` is used as given instead.
   */
  bodyLength?: number;
  /** The request being answered (Connection, HEAD and HTTP/1.0 handling). */
  request?: RequestInfo;
  /** Close the connection after this response. */
  close?: boolean;
  /** Date source, or false to send no Date. Default: the shared once-per-second cache. */
  date?: HttpDate | false;
}

export interface ResponseHeadBytes {
  /** The complete head, ending with the blank line. */
  readonly bytes: Uint8Array;
  /** The body must be written with chunked coding (`encodeChunk`, then `LAST_CHUNK`). */
  readonly chunked: boolean;
  /** Whether the connection stays open afterwards. */
  readonly keepAlive: boolean;
  /** Whether a body may follow (false for HEAD, 1xx, 204 and 304). */
  readonly bodyAllowed: boolean;
}

/** Thrown when a header name or value would break the head (CR, LF, NUL, …): header injection. */
export class HeaderInjectionError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = "HeaderInjectionError";
  }
}

/** Throws unless `name` is a token (RFC 9110 §5.1). */
export function checkHeaderName(name: string): void {
  if (name.length === 0) throw new HeaderInjectionError("empty header name");
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) throw new HeaderInjectionError("invalid header name " + JSON.stringify(name));
  }
}

/**
 * Throws if `value` holds CR, LF, NUL or another control character except
 * HTAB, or a character beyond U+00FF. Returns whether it is pure ASCII.
 */
export function checkHeaderValue(value: string, name = ""): boolean {
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20) {
      if (c !== 0x09) throw new HeaderInjectionError("control character in header value of " + JSON.stringify(name));
    } else if (c >= 0x7f) {
      if (c === 0x7f || c > 0xff)
        throw new HeaderInjectionError("invalid character in header value of " + JSON.stringify(name));
      ascii = false;
    }
  }
  return ascii;
}

/** Calls `fn` for each `[name, value]` of a HeadersInit. */
export function forEachHeader(headers: HeadersInit | undefined, fn: (name: string, value: string) => void): void {
  if (headers === undefined) return;
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function") {
    for (const [n, v] of headers as Iterable<readonly [string, string]>) fn(n, v);
    return;
  }
  const record = headers as Record<string, string | number | readonly string[]>;
  for (const n of Object.keys(record)) {
    const v = record[n]!;
    if (typeof v === "object") for (const item of v) fn(n, item);
    else fn(n, String(v));
  }
}

const encoder = new TextEncoder();

/** Encodes a string of code units ≤ 0xFF as one byte each. */
export function encodeLatin1(s: string, ascii: boolean): Uint8Array {
  if (ascii) return encoder.encode(s);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Builds a response head. Refuses (throws `HeaderInjectionError`) names
 * that are not tokens and values with CR, LF, NUL or other controls.
 */
export function writeResponseHead(init: ResponseHeadInit): ResponseHeadBytes {
  const status = init.status;
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError("invalid status " + status);
  const reason = init.statusText ?? statusText(status);
  let ascii = checkHeaderValue(reason, ":status");
  const request = init.request;
  const headOnly = request !== undefined && request.method === "HEAD";
  const noBody = status < 200 || status === 204 || status === 304;
  let keepAlive = init.close !== true && (request === undefined || request.keepAlive);
  let userLength = false;
  let userChunked = false;
  let userDate = false;
  let fields = "";
  forEachHeader(init.headers, (name, value) => {
    checkHeaderName(name);
    if (!checkHeaderValue(value, name)) ascii = false;
    const lower = name.length >= 4 && name.length <= 17 ? name.toLowerCase() : "";
    if (lower === "content-length") {
      if (!/^[0-9]+$/.test(value)) throw new HeaderInjectionError("invalid Content-Length " + JSON.stringify(value));
      userLength = true;
    } else if (lower === "transfer-encoding") userChunked = /(^|,)\s*chunked\s*$/i.test(value);
    else if (lower === "connection") {
      if (/(^|,)\s*close\s*(,|$)/i.test(value)) keepAlive = false;
      return; // written below, once
    } else if (lower === "date") userDate = true;
    fields += name + ": " + value + "\r\n";
  });
  let chunked = userChunked;
  if (!noBody && !userLength && !userChunked) {
    if (init.bodyLength !== undefined) {
      if (!Number.isSafeInteger(init.bodyLength) || init.bodyLength < 0) throw new RangeError("invalid body length");
      fields += "Content-Length: " + init.bodyLength + "\r\n";
    } else if (!headOnly) {
      // RFC 9112 §6.3: without a length, HTTP/1.1 gets chunked; HTTP/1.0 can only read until close.
      if (request === undefined || request.minor >= 1) {
        fields += "Transfer-Encoding: chunked\r\n";
        chunked = true;
      } else keepAlive = false;
    }
  }
  if (noBody || headOnly) chunked = false;
  let head = "HTTP/1.1 " + status + " " + reason + "\r\n";
  if (init.date !== false && !userDate) head += "Date: " + (init.date ?? defaultHttpDate).value + "\r\n";
  head += fields;
  if (!keepAlive) head += "Connection: close\r\n";
  else if (request !== undefined && request.minor === 0) head += "Connection: keep-alive\r\n";
  head += "\r\n";
  return { bytes: encodeLatin1(head, ascii), chunked, keepAlive, bodyAllowed: !noBody && !headOnly };
}

/** "HTTP/1.1 100 Continue" for `Expect: 100-continue` (RFC 9110 §10.1.1). */
export const CONTINUE_RESPONSE: Uint8Array = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
