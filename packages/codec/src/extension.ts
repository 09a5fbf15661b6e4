/**
 * The Sec-WebSocket-Extensions header (RFC 6455 §9.1).
 * @module
 */
import { ProtocolError } from "./errors.ts";

/**
 * One extension with its parameters; a parameter without a value is `true`. `duplicate`, when
 * present, names the first parameter that appeared more than once (its first value is kept):
 * well-formed, but RFC 7692 §7 has a server decline such a permessage-deflate offer and a
 * client fail on such a response.
 */
export type ExtensionOffer = { name: string; params: Record<string, string | true>; duplicate?: string };

// RFC 7230 §3.2.6 tchar.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** True when `s` is a non-empty RFC 7230 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

function bad(reason: string): ProtocolError {
  return new ProtocolError("protocol", `invalid Sec-WebSocket-Extensions header: ${reason}`);
}

/**
 * Parses `extension-list` (RFC 6455 §9.1): `name *( ";" param [ "=" (token | quoted-string) ] )`
 * separated by commas, with optional whitespace. Quoted values must be tokens after
 * unescaping (§9.1). Names and parameter names are lower-cased (tokens are case-insensitive
 * for the extensions registered so far). Empty list elements are ignored (RFC 7230 §7).
 * Throws {@link ProtocolError} (1002) on malformed input (RFC 6455 §9.1: fail the connection;
 * the handshake answers 400). A parameter repeated within one extension is well-formed: the
 * offer says so in `duplicate`, for the extension to decline it.
 */
export function parseExtensionHeader(value: string): ExtensionOffer[] {
  const out: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  const skipWs = () => {
    while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTchar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  for (;;) {
    skipWs();
    if (i >= n) break;
    if (value.charCodeAt(i) === 0x2c) {
      i++;
      continue; // empty element
    }
    const name = readToken().toLowerCase();
    if (name === "") throw bad(`unexpected character at ${i}`);
    const params: Record<string, string | true> = Object.create(null);
    let duplicate: string | undefined;
    skipWs();
    while (i < n && value.charCodeAt(i) === 0x3b) {
      i++;
      skipWs();
      const key = readToken().toLowerCase();
      if (key === "") throw bad(`expected a parameter name at ${i}`);
      skipWs();
      let val: string | true = true;
      if (i < n && value.charCodeAt(i) === 0x3d) {
        i++;
        skipWs();
        if (i < n && value.charCodeAt(i) === 0x22) {
          i++;
          let s = "";
          for (;;) {
            if (i >= n) throw bad("unterminated quoted string");
            const c = value.charCodeAt(i);
            if (c === 0x22) {
              i++;
              break;
            }
            if (c === 0x5c) {
              i++;
              if (i >= n) throw bad("unterminated quoted string");
            }
            s += value[i];
            i++;
          }
          if (!isToken(s)) throw bad(`quoted value of ${key} is not a token`);
          val = s;
        } else {
          val = readToken();
          if (val === "") throw bad(`expected a value for ${key}`);
        }
        skipWs();
      }
      if (!Object.hasOwn(params, key)) params[key] = val;
      else duplicate ??= key;
    }
    out.push(duplicate === undefined ? { name, params: { ...params } } : { name, params: { ...params }, duplicate });
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) throw bad(`unexpected character at ${i}`);
    i++;
  }
  return out;
}

/** Formats offers as a header value (`name; a; b=15, other`); values that are not tokens are quoted. */
export function formatExtensionHeader(offers: ExtensionOffer[]): string {
  return offers
    .map((o) => {
      let s = o.name;
      for (const [k, v] of Object.entries(o.params)) {
        if (v === true) s += `; ${k}`;
        else s += `; ${k}=${isToken(v) ? v : `"${v.replace(/["\\]/g, "\\$&")}"`}`;
      }
      return s;
    })
    .join(", ");
}
