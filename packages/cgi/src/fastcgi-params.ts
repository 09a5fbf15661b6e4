/**
 * FastCGI name-value pairs (spec §3.4): each length is one byte when below
 * 128, otherwise four bytes with the high bit set (31-bit length).
 *
 * @module
 */

export type NameValuePair = readonly [name: string, value: string];

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function lengthSize(n: number): number {
  return n < 128 ? 1 : 4;
}

function writeLength(out: Uint8Array, at: number, n: number): number {
  if (n < 128) {
    out[at] = n;
    return at + 1;
  }
  out[at] = ((n >>> 24) & 0x7f) | 0x80;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
  return at + 4;
}

/** Byte length of `s` if it is ASCII (written as is), else -1 (encoded as UTF-8). */
function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return s.length;
}

/** Encodes pairs as the content of a PARAMS stream or a GET_VALUES(_RESULT) record. */
export function encodeNameValuePairs(input: Iterable<NameValuePair>): Uint8Array {
  if (input instanceof Map) return encodeMap(input);
  // Read twice below: a one-shot iterator (a generator) is collected first.
  const pairs = (input[Symbol.iterator]() as unknown) === input ? [...input] : input;
  // Meta-variables are almost always ASCII: measure, then copy char codes (no TextEncoder, no per-string objects).
  let size = 0;
  let ascii = true;
  for (const [name, value] of pairs) {
    const n = asciiLength(name);
    const v = asciiLength(value);
    if (n < 0 || v < 0) {
      ascii = false;
      break;
    }
    size += lengthSize(n) + lengthSize(v) + n + v;
  }
  if (!ascii) return encodeMixed(pairs);
  const out = new Uint8Array(size);
  let at = 0;
  for (const [name, value] of pairs) {
    at = writeLength(out, at, name.length);
    at = writeLength(out, at, value.length);
    for (let i = 0; i < name.length; i++) out[at++] = name.charCodeAt(i);
    for (let i = 0; i < value.length; i++) out[at++] = value.charCodeAt(i);
  }
  return out;
}

/** The same for a Map (meta-variables), without an entry array per pair. */
function encodeMap(map: Map<string, string>): Uint8Array {
  let size = 0;
  let ascii = true;
  map.forEach((value, name) => {
    const n = asciiLength(name);
    const v = asciiLength(value);
    if (n < 0 || v < 0) ascii = false;
    size += lengthSize(n) + lengthSize(v) + n + v;
  });
  if (!ascii) return encodeMixed(map);
  const out = new Uint8Array(size);
  let at = 0;
  map.forEach((value, name) => {
    at = writeLength(out, at, name.length);
    at = writeLength(out, at, value.length);
    for (let i = 0; i < name.length; i++) out[at++] = name.charCodeAt(i);
    for (let i = 0; i < value.length; i++) out[at++] = value.charCodeAt(i);
  });
  return out;
}

/** Pairs with non-ASCII strings: those are encoded as UTF-8. */
function encodeMixed(pairs: Iterable<NameValuePair>): Uint8Array {
  const items: Array<string | Uint8Array> = [];
  let size = 0;
  for (const [name, value] of pairs) {
    for (const s of [name, value]) {
      const n = asciiLength(s);
      const item = n >= 0 ? s : utf8.encode(s);
      items.push(item);
      const len = n >= 0 ? n : (item as Uint8Array).length;
      size += lengthSize(len) + len;
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < items.length; i += 2) {
    const n = items[i]!;
    const v = items[i + 1]!;
    at = writeLength(out, at, n.length);
    at = writeLength(out, at, v.length);
    at = put(out, at, n);
    at = put(out, at, v);
  }
  return out;
}

function put(out: Uint8Array, at: number, item: string | Uint8Array): number {
  if (typeof item !== "string") {
    out.set(item, at);
    return at + item.length;
  }
  for (let i = 0; i < item.length; i++) out[at + i] = item.charCodeAt(i);
  return at + item.length;
}

/** Decodes a complete name-value block; `null` when a length runs past the end. */
export function decodeNameValuePairs(data: Uint8Array): NameValuePair[] | null {
  const pairs: NameValuePair[] = [];
  let i = 0;
  const readLength = (): number => {
    if (i >= data.length) return -1;
    const b = data[i]!;
    if (b < 128) {
      i += 1;
      return b;
    }
    if (i + 4 > data.length) return -1;
    const n = ((b & 0x7f) << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
    i += 4;
    return n >>> 0;
  };
  while (i < data.length) {
    const nl = readLength();
    if (nl < 0) return null;
    const vl = readLength();
    if (vl < 0) return null;
    if (nl > data.length - i || vl > data.length - i - nl) return null;
    const name = fromUtf8.decode(data.subarray(i, i + nl));
    i += nl;
    const value = fromUtf8.decode(data.subarray(i, i + vl));
    i += vl;
    pairs.push([name, value]);
  }
  return pairs;
}
