/**
 * The one typed error of this package. Every rejection of a request (by the
 * head parser, the body decoders, the form helpers or the WebSocket
 * handshake) is an `HttpError` carrying the status to answer with; the
 * response bytes for it are made in one place (`errorResponse`).
 */
import { checkHeaderName, checkHeaderValue, encodeLatin1 } from "./response.ts";
import { statusText } from "./status.ts";

/** Machine-readable reasons; each maps to exactly one status code (see `HTTP_ERROR_STATUS`). */
export type HttpErrorCode =
  | "bad-request-line"
  | "bad-method"
  | "bad-target"
  | "bad-version"
  | "version-not-supported"
  | "request-line-too-long"
  | "head-too-large"
  | "too-many-headers"
  | "bare-lf"
  | "bare-cr"
  | "bad-header-name"
  | "bad-header-value"
  | "obs-fold"
  | "missing-host"
  | "duplicate-host"
  | "bad-host"
  | "bad-content-length"
  | "conflicting-content-length"
  | "content-length-with-transfer-encoding"
  | "bad-transfer-encoding"
  | "unsupported-transfer-encoding"
  | "transfer-encoding-http10"
  | "bad-chunk"
  | "chunk-size-overflow"
  | "bad-trailer"
  | "trailer-too-large"
  | "body-too-large"
  | "truncated-body"
  | "bad-form"
  | "bad-json"
  | "bad-multipart"
  | "too-many-parts"
  | "part-too-large"
  | "unsupported-media-type"
  | "websocket-method"
  | "websocket-http-version"
  | "websocket-upgrade"
  | "websocket-connection"
  | "websocket-key"
  | "websocket-version"
  | "websocket-protocol"
  | "websocket-extensions"
  | "bad-status-line"
  | "rejected";

/** The status each code answers with. 4xx/5xx per RFC 9110 §15 and RFC 9112. */
export const HTTP_ERROR_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  "bad-request-line": 400,
  "bad-method": 400,
  "bad-target": 400,
  "bad-version": 400,
  "version-not-supported": 505,
  "request-line-too-long": 414,
  "head-too-large": 431,
  "too-many-headers": 431,
  "bare-lf": 400,
  "bare-cr": 400,
  "bad-header-name": 400,
  "bad-header-value": 400,
  "obs-fold": 400,
  "missing-host": 400,
  "duplicate-host": 400,
  "bad-host": 400,
  "bad-content-length": 400,
  "conflicting-content-length": 400,
  "content-length-with-transfer-encoding": 400,
  "bad-transfer-encoding": 400,
  "unsupported-transfer-encoding": 501,
  "transfer-encoding-http10": 400,
  "bad-chunk": 400,
  "chunk-size-overflow": 400,
  "bad-trailer": 400,
  "trailer-too-large": 431,
  "body-too-large": 413,
  "truncated-body": 400,
  "bad-form": 400,
  "bad-json": 400,
  "bad-multipart": 400,
  "too-many-parts": 413,
  "part-too-large": 413,
  "unsupported-media-type": 415,
  "websocket-method": 405,
  "websocket-http-version": 400,
  "websocket-upgrade": 400,
  "websocket-connection": 400,
  "websocket-key": 400,
  "websocket-version": 426,
  "websocket-protocol": 400,
  "websocket-extensions": 400,
  "bad-status-line": 502,
  rejected: 400,
};

/** A header to send with an error response, e.g. `["Sec-WebSocket-Version", "13"]` with 426. */
export type HeaderPair = readonly [name: string, value: string];

export class HttpError extends Error {
  /** The status code to answer with. */
  readonly status: number;
  /** What went wrong, machine-readable. */
  readonly code: HttpErrorCode;
  /** Extra response headers this error requires (426 needs `Sec-WebSocket-Version`, 405 needs `Allow`). */
  readonly headers: readonly HeaderPair[];

  constructor(code: HttpErrorCode, message: string, headers: readonly HeaderPair[] = [], status?: number) {
    super(message);
    this.name = "HttpError";
    this.code = code;
    this.status = status ?? HTTP_ERROR_STATUS[code];
    this.headers = headers;
  }
}

const encoder = new TextEncoder();
const cache = new Map<string, Uint8Array>();

/**
 * The complete response for an error: status line, `Connection: close`,
 * a plain-text body with the message, and any headers the error requires.
 * Responses are built once per distinct error and reused (like uWebSockets'
 * HttpErrors.h), so answering a flood of bad requests costs no formatting.
 * No `Date` header: these bytes are shared and the connection closes after them.
 */
export function errorResponse(error: HttpError): Uint8Array {
  let key = error.status + " " + error.message;
  for (const [n, v] of error.headers) key += "\n" + n + ": " + v;
  let bytes = cache.get(key);
  if (bytes === undefined) {
    bytes = buildErrorResponse(error.status, error.message, error.headers);
    if (cache.size < 512) cache.set(key, bytes);
  }
  return bytes;
}

/**
 * Exact bytes of an error response with `reason` as its text body (UTF-8),
 * e.g. for an accept hook that rejects a WebSocket upgrade. Header names and
 * values are validated like `writeResponseHead` does (header injection is refused).
 */
export function buildErrorResponse(status: number, reason: string, headers: readonly HeaderPair[] = []): Uint8Array {
  const body = encoder.encode(reason);
  let ascii = checkHeaderValue(statusText(status));
  // RFC 9110 §7.8: a response that sends Upgrade (426) lists "upgrade" in Connection too.
  const upgrade = headers.some(([n]) => n.toLowerCase() === "upgrade");
  let head =
    "HTTP/1.1 " +
    status +
    " " +
    statusText(status) +
    "\r\nConnection: " +
    (upgrade ? "Upgrade, close" : "close") +
    "\r\n";
  for (const [n, v] of headers) {
    checkHeaderName(n);
    if (!checkHeaderValue(v, n)) ascii = false;
    head += n + ": " + v + "\r\n";
  }
  head += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + body.length + "\r\n\r\n";
  const h = encodeLatin1(head, ascii);
  const out = new Uint8Array(h.length + body.length);
  out.set(h, 0);
  out.set(body, h.length);
  return out;
}
