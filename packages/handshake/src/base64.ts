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

/** The base64 of `data` as a string. */
export function base64(data: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(data.length / 3) * 4);
  base64Into(data, out, 0);
  return String.fromCharCode.apply(null, out as unknown as number[]);
}
