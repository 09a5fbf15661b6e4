/**
 * Byte classes from RFC 9110 §5.6 and RFC 3986, as 256-entry lookup tables so
 * the parsers test a byte with one load instead of a chain of comparisons.
 */

function table(test: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = test(c) ? 1 : 0;
  return t;
}

const isAlpha = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TOKEN: Uint8Array = table(
  (c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)),
);

/** RFC 9110 §5.5: field-value characters (VCHAR, obs-text, SP, HTAB); CTLs, DEL and bare CR are refused. */
export const FIELD_VALUE: Uint8Array = table((c) => c === 0x09 || c === 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/**
 * Request-target characters. Visible ASCII except "#" (a fragment is never
 * sent, RFC 9112 §3.2); browsers leave `{ } | ^ \` unescaped in queries, so
 * those pass. CTLs, SP, DEL and non-ASCII bytes are refused.
 */
export const TARGET: Uint8Array = table((c) => c >= 0x21 && c <= 0x7e && c !== 0x23);

/** RFC 3986 §3.2.2 host plus ":" port, "[" "]" for IP literals and "%" for pct-encoding. */
export const HOST: Uint8Array = table(
  (c) => isAlpha(c) || isDigit(c) || "-._~!$&'()*+,;=:%[]".includes(String.fromCharCode(c)),
);

/** RFC 3986 §3.1: scheme characters after the first ALPHA. */
export const SCHEME: Uint8Array = table((c) => isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e);

/** ASCII lower-casing table (bytes >= 0x80 map to themselves). */
export const LOWER: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  return t;
})();

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/**
 * Bytes to a string, one code unit per byte (ISO-8859-1). Header bytes are
 * ASCII in practice; obs-text bytes survive unchanged so nothing is lost.
 */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  if (n < 16) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  if (n <= 4096) return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/** True when every code unit of `s` is a tchar (and `s` is not empty). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** ASCII lower-case without allocating when `s` is already lower-case. */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

/**
 * Splits a comma-separated list (RFC 9110 §5.6.1), trimming OWS and dropping
 * empty elements. Used for Connection, Upgrade, Transfer-Encoding and
 * Sec-WebSocket-Protocol.
 */
export function splitList(value: string, out: string[] = []): string[] {
  let start = 0;
  const n = value.length;
  while (start <= n) {
    let end = value.indexOf(",", start);
    if (end === -1) end = n;
    let a = start;
    let b = end;
    while (a < b && (value.charCodeAt(a) === 0x20 || value.charCodeAt(a) === 0x09)) a++;
    while (b > a && (value.charCodeAt(b - 1) === 0x20 || value.charCodeAt(b - 1) === 0x09)) b--;
    if (b > a) out.push(value.slice(a, b));
    start = end + 1;
  }
  return out;
}

/**
 * Case-insensitive membership of `token` (lower-case) in a comma-separated
 * list, without allocating (the handshake checks Connection and Upgrade on
 * every request).
 */
export function listHasToken(value: string, token: string): boolean {
  const n = value.length;
  const t = token.length;
  if (n < t) return false;
  if (n === t) {
    // The usual case, a one-element list ("Upgrade", "websocket"): one case-insensitive comparison.
    // Any whitespace or comma would make the element shorter than the token (a token has neither).
    for (let k = 0; k < t; k++) {
      let c = value.charCodeAt(k);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== token.charCodeAt(k)) return false;
    }
    return true;
  }
  let i = 0;
  while (i < n) {
    while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09 || value.charCodeAt(i) === 0x2c)) i++;
    const start = i;
    while (i < n && value.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
    if (end - start !== t) continue;
    let k = 0;
    for (; k < t; k++) {
      let c = value.charCodeAt(start + k);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== token.charCodeAt(k)) break;
    }
    if (k === t) return true;
  }
  return false;
}
