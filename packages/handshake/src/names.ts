/**
 * Interned header names. The parser compares a field name's bytes against a
 * small table of the names browsers and servers actually send, and on a match
 * reuses the table's strings instead of allocating new ones. It also hands
 * back an id so the parser can switch on the fields it cares about.
 */
import { LOWER } from "./chars.ts";

export const H_OTHER = 0;
export const H_HOST = 1;
export const H_CONTENT_LENGTH = 2;
export const H_TRANSFER_ENCODING = 3;
export const H_CONNECTION = 4;
export const H_UPGRADE = 5;
export const H_EXPECT = 6;

interface Known {
  index: number;
  id: number;
  lower: string;
  canonical: string;
  lowerBytes: Uint8Array;
  canonicalBytes: Uint8Array;
}

// Canonical spellings as browsers send them (Chromium and Safari use these,
// Firefox the same except where noted by the fixtures; lower-case spelling
// also matches without allocation).
const KNOWN: [string, number][] = [
  ["Host", H_HOST],
  ["Content-Length", H_CONTENT_LENGTH],
  ["Transfer-Encoding", H_TRANSFER_ENCODING],
  ["Connection", H_CONNECTION],
  ["Upgrade", H_UPGRADE],
  ["Expect", H_EXPECT],
  ["User-Agent", H_OTHER],
  ["Accept", H_OTHER],
  ["Accept-Encoding", H_OTHER],
  ["Accept-Language", H_OTHER],
  ["Cache-Control", H_OTHER],
  ["Pragma", H_OTHER],
  ["Origin", H_OTHER],
  ["Cookie", H_OTHER],
  ["Referer", H_OTHER],
  ["Content-Type", H_OTHER],
  ["Authorization", H_OTHER],
  ["If-None-Match", H_OTHER],
  ["If-Modified-Since", H_OTHER],
  ["Range", H_OTHER],
  ["DNT", H_OTHER],
  ["TE", H_OTHER],
  ["Priority", H_OTHER],
  ["Keep-Alive", H_OTHER],
  ["Upgrade-Insecure-Requests", H_OTHER],
  ["Sec-WebSocket-Key", H_OTHER],
  ["Sec-WebSocket-Version", H_OTHER],
  ["Sec-WebSocket-Extensions", H_OTHER],
  ["Sec-WebSocket-Protocol", H_OTHER],
  ["Sec-WebSocket-Accept", H_OTHER],
  ["Sec-Fetch-Dest", H_OTHER],
  ["Sec-Fetch-Mode", H_OTHER],
  ["Sec-Fetch-Site", H_OTHER],
  ["Sec-Fetch-User", H_OTHER],
  ["sec-ch-ua", H_OTHER],
  ["sec-ch-ua-mobile", H_OTHER],
  ["sec-ch-ua-platform", H_OTHER],
  ["X-Forwarded-For", H_OTHER],
  ["X-Forwarded-Proto", H_OTHER],
  ["X-Requested-With", H_OTHER],
  ["Date", H_OTHER],
  ["Server", H_OTHER],
  ["Location", H_OTHER],
  ["Set-Cookie", H_OTHER],
  ["ETag", H_OTHER],
  ["Last-Modified", H_OTHER],
  ["Content-Encoding", H_OTHER],
];

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const BY_LENGTH: Known[][] = [];
KNOWN.forEach(([canonical, id], index) => {
  const lower = canonical.toLowerCase();
  const bucket = (BY_LENGTH[canonical.length] ??= []);
  bucket.push({ index, id, lower, canonical, lowerBytes: ascii(lower), canonicalBytes: ascii(canonical) });
});

/** Lower-case, canonical spelling and id of each known name, by index. */
export const KNOWN_LOWER: string[] = [];
export const KNOWN_CANONICAL: string[] = [];
export const KNOWN_ID: Int32Array = new Int32Array(KNOWN.length);
KNOWN.forEach(([canonical, id], i) => {
  KNOWN_LOWER[i] = canonical.toLowerCase();
  KNOWN_CANONICAL[i] = canonical;
  KNOWN_ID[i] = id;
});

/**
 * Looks up the token at `buf[start, end)`. Returns -1 for an unknown name,
 * else `index * 4 + spelling` where spelling is 0 when the bytes are the
 * canonical spelling, 1 when they are all lower-case, 2 otherwise.
 * Allocates nothing.
 */
export function lookupName(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  const bucket = BY_LENGTH[n];
  if (bucket === undefined) return -1;
  const lower = LOWER;
  outer: for (let k = 0; k < bucket.length; k++) {
    const known = bucket[k]!;
    // Browsers send the canonical spelling: try an exact match first.
    const cb = known.canonicalBytes;
    let i = 0;
    while (i < n && buf[start + i] === cb[i]) i++;
    if (i === n) return known.index * 4;
    const lb = known.lowerBytes;
    for (let j = i; j < n; j++) if (lower[buf[start + j]!] !== lb[j]) continue outer;
    // Bytes before `i` matched the canonical spelling, so they match case-insensitively too.
    i = 0;
    while (i < n && buf[start + i] === lb[i]) i++;
    return known.index * 4 + (i === n ? 1 : 2);
  }
  return -1;
}

const METHODS = ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"];
const METHOD_BYTES = METHODS.map(ascii);

/** The standard method at `buf[start, end)` as a constant string, or undefined for another token. */
export function internMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  const n = end - start;
  outer: for (let k = 0; k < METHODS.length; k++) {
    const m = METHOD_BYTES[k]!;
    if (m.length !== n) continue;
    for (let i = 0; i < n; i++) if (buf[start + i] !== m[i]) continue outer;
    return METHODS[k]!;
  }
  return undefined;
}
