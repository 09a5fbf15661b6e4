/**
 * Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 §4.2.2 item 5.4, §1.3).
 */
import { base64, base64Into, base64WordsInto } from "./base64.ts";
import { FixedSuffixSha1, sha1 as pureSha1, type Sha1 } from "./sha1.ts";

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// The hash input, key (24 bytes) then GUID (36 bytes), reused for every handshake.
const INPUT = new Uint8Array(60);
for (let i = 0; i < 36; i++) INPUT[24 + i] = WEBSOCKET_GUID.charCodeAt(i);

const B64 = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") B64[c.charCodeAt(0)] = 1;

/**
 * RFC 6455 §4.1/§4.2.1: the key is the base64 of 16 bytes: 22 base64
 * characters and "==" (24 characters).
 */
export function isValidWebSocketKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    if (c > 127 || B64[c] !== 1) return false;
  }
  return true;
}

// The pure-JS SHA-1 specialised for key + GUID: no input copy, no digest allocation.
const ACCEPT_HASH = new FixedSuffixSha1(WEBSOCKET_GUID);

/** Writes the 28 ASCII bytes of the accept value for a valid `key` into `out` at `offset`. */
export function writeAcceptKey(key: string, out: Uint8Array, offset: number, sha1: Sha1 = pureSha1): number {
  if (sha1 === pureSha1) return base64WordsInto(ACCEPT_HASH.digest(key), out, offset);
  for (let i = 0; i < 24; i++) INPUT[i] = key.charCodeAt(i);
  return base64Into(sha1(INPUT), out, offset);
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)). */
export function computeAcceptKey(key: string, sha1: Sha1 = pureSha1): string {
  const input = new TextEncoder().encode(key + WEBSOCKET_GUID);
  return base64(sha1(input));
}

/** A fresh key: base64 of 16 random bytes (`fill` defaults to crypto.getRandomValues). */
export function generateWebSocketKey(fill: (bytes: Uint8Array) => void = (b) => crypto.getRandomValues(b)): string {
  const nonce = new Uint8Array(16);
  fill(nonce);
  return base64(nonce);
}
