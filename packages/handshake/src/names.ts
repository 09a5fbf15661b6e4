/**
 * Interned header names. The parser compares a field name's bytes against a
 * small table of the names browsers and servers actually send, and on a match
 * reuses the table's strings instead of allocating new ones. It also hands
 * back an id so the parser can switch on the fields it cares about.
 */
import { LOWER, latin1 } from "./chars.ts";

export const H_OTHER = 0;
export const H_HOST = 1;
export const H_CONTENT_LENGTH = 2;
export const H_TRANSFER_ENCODING = 3;
export const H_CONNECTION = 4;
export const H_UPGRADE = 5;
export const H_EXPECT = 6;

interface Known {
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
for (const [canonical, id] of KNOWN) {
  const lower = canonical.toLowerCase();
  const bucket = (BY_LENGTH[canonical.length] ??= []);
  bucket.push({ id, lower, canonical, lowerBytes: ascii(lower), canonicalBytes: ascii(canonical) });
}

/** Results of the last `internName` call (module-level so no object is allocated per field). */
export let internedLower = "";
export let internedRaw = "";
export let internedId = H_OTHER;

/** Sets `internedLower`, `internedRaw` and `internedId` for the token at `buf[start, end)`. */
export function internName(buf: Uint8Array, start: number, end: number): void {
  const n = end - start;
  const bucket = BY_LENGTH[n];
  if (bucket !== undefined) {
    outer: for (let k = 0; k < bucket.length; k++) {
      const known = bucket[k]!;
      const lb = known.lowerBytes;
      for (let i = 0; i < n; i++) if (LOWER[buf[start + i]!] !== lb[i]) continue outer;
      internedLower = known.lower;
      internedId = known.id;
      const cb = known.canonicalBytes;
      let same = true;
      for (let i = 0; i < n; i++) {
        if (buf[start + i] !== cb[i]) {
          same = false;
          break;
        }
      }
      if (same) {
        internedRaw = known.canonical;
        return;
      }
      same = true;
      for (let i = 0; i < n; i++) {
        if (buf[start + i] !== lb[i]) {
          same = false;
          break;
        }
      }
      internedRaw = same ? known.lower : latin1(buf, start, end);
      return;
    }
  }
  internedId = H_OTHER;
  const raw = latin1(buf, start, end);
  internedRaw = raw;
  let upper = false;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) {
      upper = true;
      break;
    }
  }
  internedLower = upper ? raw.toLowerCase() : raw;
}

const METHODS = ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"];
const METHOD_BYTES = METHODS.map(ascii);

/** The method token at `buf[start, end)`, reusing constant strings for the standard methods. */
export function internMethod(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  outer: for (let k = 0; k < METHODS.length; k++) {
    const m = METHOD_BYTES[k]!;
    if (m.length !== n) continue;
    for (let i = 0; i < n; i++) if (buf[start + i] !== m[i]) continue outer;
    return METHODS[k]!;
  }
  return latin1(buf, start, end);
}
