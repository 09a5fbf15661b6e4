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
// also matches without allocation). Each entry: canonical spelling, the same
// in lower case (checked by the tests), id. The lower-case spellings are written out as literals so they are interned strings: the
// handshake looks fields up with literals ("upgrade", "sec-websocket-key"),
// and comparing two interned strings is a pointer comparison (V8, JSC).
const KNOWN: [string, string, number][] = [
  ["Host", "host", H_HOST],
  ["Content-Length", "content-length", H_CONTENT_LENGTH],
  ["Transfer-Encoding", "transfer-encoding", H_TRANSFER_ENCODING],
  ["Connection", "connection", H_CONNECTION],
  ["Upgrade", "upgrade", H_UPGRADE],
  ["Expect", "expect", H_EXPECT],
  ["User-Agent", "user-agent", H_OTHER],
  ["Accept", "accept", H_OTHER],
  ["Accept-Encoding", "accept-encoding", H_OTHER],
  ["Accept-Language", "accept-language", H_OTHER],
  ["Cache-Control", "cache-control", H_OTHER],
  ["Pragma", "pragma", H_OTHER],
  ["Origin", "origin", H_OTHER],
  ["Cookie", "cookie", H_OTHER],
  ["Referer", "referer", H_OTHER],
  ["Content-Type", "content-type", H_OTHER],
  ["Authorization", "authorization", H_OTHER],
  ["If-None-Match", "if-none-match", H_OTHER],
  ["If-Modified-Since", "if-modified-since", H_OTHER],
  ["Range", "range", H_OTHER],
  ["DNT", "dnt", H_OTHER],
  ["TE", "te", H_OTHER],
  ["Priority", "priority", H_OTHER],
  ["Keep-Alive", "keep-alive", H_OTHER],
  ["Upgrade-Insecure-Requests", "upgrade-insecure-requests", H_OTHER],
  ["Sec-WebSocket-Key", "sec-websocket-key", H_OTHER],
  ["Sec-WebSocket-Version", "sec-websocket-version", H_OTHER],
  ["Sec-WebSocket-Extensions", "sec-websocket-extensions", H_OTHER],
  ["Sec-WebSocket-Protocol", "sec-websocket-protocol", H_OTHER],
  ["Sec-WebSocket-Accept", "sec-websocket-accept", H_OTHER],
  ["Sec-Fetch-Dest", "sec-fetch-dest", H_OTHER],
  ["Sec-Fetch-Mode", "sec-fetch-mode", H_OTHER],
  ["Sec-Fetch-Site", "sec-fetch-site", H_OTHER],
  ["Sec-Fetch-User", "sec-fetch-user", H_OTHER],
  ["sec-ch-ua", "sec-ch-ua", H_OTHER],
  ["sec-ch-ua-mobile", "sec-ch-ua-mobile", H_OTHER],
  ["sec-ch-ua-platform", "sec-ch-ua-platform", H_OTHER],
  ["X-Forwarded-For", "x-forwarded-for", H_OTHER],
  ["X-Forwarded-Proto", "x-forwarded-proto", H_OTHER],
  ["X-Requested-With", "x-requested-with", H_OTHER],
  ["Date", "date", H_OTHER],
  ["Server", "server", H_OTHER],
  ["Location", "location", H_OTHER],
  ["Set-Cookie", "set-cookie", H_OTHER],
  ["ETag", "etag", H_OTHER],
  ["Last-Modified", "last-modified", H_OTHER],
  ["Content-Encoding", "content-encoding", H_OTHER],
];

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const BY_LENGTH: Known[][] = [];
KNOWN.forEach(([canonical, lower, id], index) => {
  const bucket = (BY_LENGTH[canonical.length] ??= []);
  bucket.push({ index, id, lower, canonical, lowerBytes: ascii(lower), canonicalBytes: ascii(canonical) });
});

/** Lower-case, canonical spelling and id of each known name, by index. */
export const KNOWN_LOWER: string[] = [];
export const KNOWN_CANONICAL: string[] = [];
export const KNOWN_ID: Int32Array = new Int32Array(KNOWN.length);
KNOWN.forEach(([canonical, lower, id], i) => {
  KNOWN_LOWER[i] = lower;
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
