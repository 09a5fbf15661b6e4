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

/** Encodes pairs as the content of a PARAMS stream or a GET_VALUES(_RESULT) record. */
export function encodeNameValuePairs(pairs: Iterable<NameValuePair>): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const [name, value] of pairs) {
    const n = utf8.encode(name);
    const v = utf8.encode(value);
    parts.push(n, v);
    size += lengthSize(n.length) + lengthSize(v.length) + n.length + v.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < parts.length; i += 2) {
    const n = parts[i]!;
    const v = parts[i + 1]!;
    at = writeLength(out, at, n.length);
    at = writeLength(out, at, v.length);
    out.set(n, at);
    at += n.length;
    out.set(v, at);
    at += v.length;
  }
  return out;
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
