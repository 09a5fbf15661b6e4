/** Standard base64 (RFC 4648 §4) for keys and accept values, without strings in between. */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** Writes the base64 of `data` into `out` at `offset` as ASCII bytes; returns the end offset. */
export function base64Into(data: Uint8Array, out: Uint8Array, offset: number): number {
  const n = data.length;
  let o = offset;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    out[o++] = CODES[v >>> 18]!;
    out[o++] = CODES[(v >>> 12) & 63]!;
    out[o++] = CODES[(v >>> 6) & 63]!;
    out[o++] = CODES[v & 63]!;
  }
  if (i < n) {
    const v = (data[i]! << 16) | (i + 1 < n ? data[i + 1]! << 8 : 0);
    out[o++] = CODES[v >>> 18]!;
    out[o++] = CODES[(v >>> 12) & 63]!;
    out[o++] = i + 1 < n ? CODES[(v >>> 6) & 63]! : 0x3d;
    out[o++] = 0x3d;
  }
  return o;
}

/**
 * Writes the base64 of five big-endian 32-bit words (a SHA-1 digest: 20
 * bytes, 28 characters with one "=") into `out` at `offset`; returns the end offset.
 */
export function base64WordsInto(h: Int32Array, out: Uint8Array, offset: number): number {
  const h0 = h[0]!;
  const h1 = h[1]!;
  const h2 = h[2]!;
  const h3 = h[3]!;
  const h4 = h[4]!;
  // Bytes 0..17 as six 24-bit groups, then bytes 18..19 and the padding.
  let o = quad((h0 >>> 8) & 0xffffff, out, offset);
  o = quad(((h0 & 0xff) << 16) | ((h1 >>> 16) & 0xffff), out, o);
  o = quad(((h1 & 0xffff) << 8) | ((h2 >>> 24) & 0xff), out, o);
  o = quad(h2 & 0xffffff, out, o);
  o = quad((h3 >>> 8) & 0xffffff, out, o);
  o = quad(((h3 & 0xff) << 16) | ((h4 >>> 16) & 0xffff), out, o);
  const v = (h4 & 0xffff) << 8;
  out[o] = CODES[v >>> 18]!;
  out[o + 1] = CODES[(v >>> 12) & 63]!;
  out[o + 2] = CODES[(v >>> 6) & 63]!;
  out[o + 3] = 0x3d;
  return o + 4;
}

function quad(v: number, out: Uint8Array, o: number): number {
  out[o] = CODES[v >>> 18]!;
  out[o + 1] = CODES[(v >>> 12) & 63]!;
  out[o + 2] = CODES[(v >>> 6) & 63]!;
  out[o + 3] = CODES[v & 63]!;
  return o + 4;
}

/** The base64 of `data` as a string. */
export function base64(data: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(data.length / 3) * 4);
  base64Into(data, out, 0);
  return String.fromCharCode.apply(null, out as unknown as number[]);
}
