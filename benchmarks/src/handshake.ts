/**
 * @module
 * The load generator's side of the opening handshake (RFC 6455 §4.1): one
 * request built once per target with a fixed key, and a check of the
 * server's head that needs no HTTP parser.
 */

/** The key every load generator connection sends (a fixed nonce is fine for a load tool). */
export const CLIENT_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** base64(SHA-1(CLIENT_KEY + GUID)), RFC 6455 §1.3's worked example. */
export const EXPECTED_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** The upgrade request for `url` as bytes (ASCII). */
export function buildUpgradeRequest(url: URL | string): Uint8Array {
  const u = typeof url === "string" ? new URL(url) : url;
  const path = (u.pathname || "/") + u.search;
  const text =
    `GET ${path} HTTP/1.1\r\n` +
    `Host: ${u.host}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${CLIENT_KEY}\r\n` +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  return new TextEncoder().encode(text);
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const STATUS_101 = ascii("HTTP/1.1 101 ");
/** The accept value followed by the end of its header line (the name is checked on the slow path). */
const ACCEPT_LINE_END = ascii(`: ${EXPECTED_ACCEPT}\r\n`);

const startsWith = (bytes: Uint8Array, prefix: Uint8Array, end: number) => {
  if (end < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
};

/** Index of `needle` in `bytes[0..end)`, or -1. */
function indexOf(bytes: Uint8Array, needle: Uint8Array, end: number): number {
  const first = needle[0];
  outer: for (let i = 0; i + needle.length <= end; i++) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** What `readUpgradeResponse` found in the bytes received so far. */
export type UpgradeResult =
  | { state: "incomplete" }
  | { state: "accepted"; headLength: number }
  | { state: "rejected"; reason: string };

/** Index just past the first `\r\n\r\n` in `bytes[0..end)`, or -1. */
export function findHeadEnd(bytes: Uint8Array, end = bytes.length): number {
  for (let i = 3; i < end; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) return i + 1;
  }
  return -1;
}

const INCOMPLETE: UpgradeResult = { state: "incomplete" };

/**
 * Checks a server's response head in `bytes[0..length)`: status 101 and the
 * expected Sec-WebSocket-Accept. `headLength` tells where frames begin.
 * Without copying or decoding on the usual path (a fixed prefix and one
 * search for the expected accept line), so a shared read buffer can be looked at in place.
 */
export function readUpgradeResponse(bytes: Uint8Array, maxHead = 8192, length = bytes.length): UpgradeResult {
  const end = findHeadEnd(bytes, length);
  if (end < 0) {
    return length > maxHead ? { state: "rejected", reason: "response head too long" } : INCOMPLETE;
  }
  // Fast path without decoding: "HTTP/1.1 101 " and the expected accept value as a header value.
  if (startsWith(bytes, STATUS_101, end) && indexOf(bytes, ACCEPT_LINE_END, end) >= 0)
    return { state: "accepted", headLength: end };
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, end));
  const firstLine = head.slice(0, head.indexOf("\r\n"));
  if (!/^HTTP\/1\.[01] 101\b/.test(firstLine)) return { state: "rejected", reason: firstLine };
  const accept = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*?)[ \t]*\r\n/i.exec(head);
  if (!accept || accept[1] !== EXPECTED_ACCEPT) return { state: "rejected", reason: "bad Sec-WebSocket-Accept" };
  return { state: "accepted", headLength: end };
}
