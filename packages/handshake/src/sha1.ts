/**
 * SHA-1 (FIPS 180-4) for the Sec-WebSocket-Accept value, in plain
 * JavaScript so the pure entry point works in browsers. The handshake takes
 * any `Sha1` function; `@wirehouse/handshake/sha1-node` offers node:crypto's.
 * Scratch space is preallocated: hashing a 60-byte key allocates only the
 * 20-byte result.
 */

/** A synchronous SHA-1: 20-byte digest of `data`. */
export type Sha1 = (data: Uint8Array) => Uint8Array;

const W = new Int32Array(80);
const TAIL = new Uint8Array(128);

/**
 * The message schedule: W[16..80) from the block's words in W[0..16). The
 * last sixteen words live in locals (w0..w15, unrolled sixteen steps at a
 * time), so each step is register work and one store instead of four loads.
 */
function expand(w: Int32Array): void {
  let w0 = w[0]!;
  let w1 = w[1]!;
  let w2 = w[2]!;
  let w3 = w[3]!;
  let w4 = w[4]!;
  let w5 = w[5]!;
  let w6 = w[6]!;
  let w7 = w[7]!;
  let w8 = w[8]!;
  let w9 = w[9]!;
  let w10 = w[10]!;
  let w11 = w[11]!;
  let w12 = w[12]!;
  let w13 = w[13]!;
  let w14 = w[14]!;
  let w15 = w[15]!;
  let x: number;
  for (let t = 16; t < 80; t += 16) {
    x = w13 ^ w8 ^ w2 ^ w0;
    w0 = (x << 1) | (x >>> 31);
    w[t + 0] = w0;
    x = w14 ^ w9 ^ w3 ^ w1;
    w1 = (x << 1) | (x >>> 31);
    w[t + 1] = w1;
    x = w15 ^ w10 ^ w4 ^ w2;
    w2 = (x << 1) | (x >>> 31);
    w[t + 2] = w2;
    x = w0 ^ w11 ^ w5 ^ w3;
    w3 = (x << 1) | (x >>> 31);
    w[t + 3] = w3;
    x = w1 ^ w12 ^ w6 ^ w4;
    w4 = (x << 1) | (x >>> 31);
    w[t + 4] = w4;
    x = w2 ^ w13 ^ w7 ^ w5;
    w5 = (x << 1) | (x >>> 31);
    w[t + 5] = w5;
    x = w3 ^ w14 ^ w8 ^ w6;
    w6 = (x << 1) | (x >>> 31);
    w[t + 6] = w6;
    x = w4 ^ w15 ^ w9 ^ w7;
    w7 = (x << 1) | (x >>> 31);
    w[t + 7] = w7;
    x = w5 ^ w0 ^ w10 ^ w8;
    w8 = (x << 1) | (x >>> 31);
    w[t + 8] = w8;
    x = w6 ^ w1 ^ w11 ^ w9;
    w9 = (x << 1) | (x >>> 31);
    w[t + 9] = w9;
    x = w7 ^ w2 ^ w12 ^ w10;
    w10 = (x << 1) | (x >>> 31);
    w[t + 10] = w10;
    x = w8 ^ w3 ^ w13 ^ w11;
    w11 = (x << 1) | (x >>> 31);
    w[t + 11] = w11;
    x = w9 ^ w4 ^ w14 ^ w12;
    w12 = (x << 1) | (x >>> 31);
    w[t + 12] = w12;
    x = w10 ^ w5 ^ w15 ^ w13;
    w13 = (x << 1) | (x >>> 31);
    w[t + 13] = w13;
    x = w11 ^ w6 ^ w0 ^ w14;
    w14 = (x << 1) | (x >>> 31);
    w[t + 14] = w14;
    x = w12 ^ w7 ^ w1 ^ w15;
    w15 = (x << 1) | (x >>> 31);
    w[t + 15] = w15;
  }
}

/**
 * One compression of the state `h` with an expanded schedule `w`. Unrolled
 * five steps at a time with the working variables renamed instead of
 * shifted (a five-step cycle brings every role back to its variable).
 */
function compress(h: Int32Array, w: Int32Array): void {
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let t = 0;
  for (; t < 20; t += 5) {
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + e + w[t]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + 0x5a827999 + d + w[t + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + 0x5a827999 + c + w[t + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + 0x5a827999 + b + w[t + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + 0x5a827999 + a + w[t + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (; t < 40; t += 5) {
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + e + w[t]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0x6ed9eba1 + d + w[t + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0x6ed9eba1 + c + w[t + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0x6ed9eba1 + b + w[t + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0x6ed9eba1 + a + w[t + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (; t < 60; t += 5) {
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc + e + w[t]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) + 0x8f1bbcdc + d + w[t + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) + 0x8f1bbcdc + c + w[t + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) + 0x8f1bbcdc + b + w[t + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) + 0x8f1bbcdc + a + w[t + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (; t < 80; t += 5) {
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0xca62c1d6 + e + w[t]!) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0xca62c1d6 + d + w[t + 1]!) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0xca62c1d6 + c + w[t + 2]!) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0xca62c1d6 + b + w[t + 3]!) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0xca62c1d6 + a + w[t + 4]!) | 0;
    c = (c << 30) | (c >>> 2);
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

function blocks(h: Int32Array, buf: Uint8Array, off: number, end: number): void {
  const w = W;
  for (; off < end; off += 64) {
    for (let t = 0; t < 16; t++) {
      const j = off + t * 4;
      w[t] = (buf[j]! << 24) | (buf[j + 1]! << 16) | (buf[j + 2]! << 8) | buf[j + 3]!;
    }
    expand(w);
    compress(h, w);
  }
}

const H = new Int32Array(5);

function init(h: Int32Array): void {
  h[0] = 0x67452301;
  h[1] = 0xefcdab89;
  h[2] = 0x98badcfe;
  h[3] = 0x10325476;
  h[4] = 0xc3d2e1f0;
}

/** Pure-JavaScript SHA-1. */
export const sha1: Sha1 = (data: Uint8Array): Uint8Array => {
  init(H);
  const n = data.length;
  const full = n - (n % 64);
  blocks(H, data, 0, full);
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  const rest = n - full;
  TAIL.fill(0);
  TAIL.set(data.subarray(full), 0);
  TAIL[rest] = 0x80;
  const tailLength = rest < 56 ? 64 : 128;
  const bits = n * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  TAIL[tailLength - 8] = hi >>> 24;
  TAIL[tailLength - 7] = hi >>> 16;
  TAIL[tailLength - 6] = hi >>> 8;
  TAIL[tailLength - 5] = hi;
  TAIL[tailLength - 4] = lo >>> 24;
  TAIL[tailLength - 3] = lo >>> 16;
  TAIL[tailLength - 2] = lo >>> 8;
  TAIL[tailLength - 1] = lo;
  blocks(H, TAIL, 0, tailLength);
  const out = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    const v = H[i]!;
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = v >>> 16;
    out[i * 4 + 2] = v >>> 8;
    out[i * 4 + 3] = v;
  }
  return out;
};

/**
 * SHA-1 of a 60-byte message whose last 36 bytes are fixed (the WebSocket
 * GUID after a 24-character key): the digest's five words into `h`. The
 * fixed bytes, the padding and the whole second block (length only) are
 * prepared once, so a handshake hashes without copying or allocating.
 */
export class FixedSuffixSha1 {
  /** Words 6..15 of the first block: the suffix, then the 0x80 padding byte. */
  private readonly suffix: Int32Array;
  /** The second block's expanded schedule (all zero but the bit length 480). */
  private readonly last = new Int32Array(80);
  readonly h = new Int32Array(5);

  constructor(suffix: string) {
    if (suffix.length !== 36) throw new RangeError("FixedSuffixSha1 expects a 36-byte suffix");
    const bytes = new Uint8Array(40);
    for (let i = 0; i < 36; i++) bytes[i] = suffix.charCodeAt(i);
    bytes[36] = 0x80;
    this.suffix = new Int32Array(10);
    for (let t = 0; t < 10; t++) {
      const j = t * 4;
      this.suffix[t] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
    }
    this.last[15] = 60 * 8;
    expand(this.last);
  }

  /** Hashes `prefix` (24 code units, each taken as its low byte, like a Uint8Array store) followed by the suffix. */
  digest(prefix: string): Int32Array {
    const w = W;
    for (let t = 0; t < 6; t++) {
      const j = t * 4;
      w[t] =
        ((prefix.charCodeAt(j) & 0xff) << 24) |
        ((prefix.charCodeAt(j + 1) & 0xff) << 16) |
        ((prefix.charCodeAt(j + 2) & 0xff) << 8) |
        (prefix.charCodeAt(j + 3) & 0xff);
    }
    const suffix = this.suffix;
    for (let t = 0; t < 10; t++) w[6 + t] = suffix[t]!;
    expand(w);
    const h = this.h;
    init(h);
    compress(h, w);
    compress(h, this.last);
    return h;
  }
}
