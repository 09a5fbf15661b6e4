/**
 * Request heads as bytes (the client side of RFC 9112 §3): used by the
 * WebSocket client handshake, tests and benchmarks.
 */
import { TARGET, TOKEN } from "./chars.ts";
import { checkHeaderName, checkHeaderValue, encodeLatin1, forEachHeader, type HeadersInit } from "./response.ts";

export interface RequestHeadInit {
  method?: string;
  /** The request-target, e.g. "/chat?room=1". */
  target: string;
  /** "HTTP/1.1" (default) or "HTTP/1.0". */
  version?: "HTTP/1.1" | "HTTP/1.0";
  headers?: HeadersInit;
}

/** Serializes a request head; validates the method, target and every field. */
export function writeRequestHead(init: RequestHeadInit): Uint8Array {
  const method = init.method ?? "GET";
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) throw new TypeError("invalid method " + JSON.stringify(method));
  }
  const target = init.target;
  if (target.length === 0) throw new TypeError("empty request target");
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c > 0x7f || TARGET[c] !== 1) throw new TypeError("invalid request target " + JSON.stringify(target));
  }
  let ascii = method.length > 0;
  if (!ascii) throw new TypeError("empty method");
  let head = method + " " + target + " " + (init.version ?? "HTTP/1.1") + "\r\n";
  forEachHeader(init.headers, (name, value) => {
    checkHeaderName(name);
    if (!checkHeaderValue(value, name)) ascii = false;
    head += name + ": " + value + "\r\n";
  });
  return encodeLatin1(head + "\r\n", ascii);
}
