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

function blocks(h: Int32Array, buf: Uint8Array, off: number, end: number): void {
  let h0 = h[0]!;
  let h1 = h[1]!;
  let h2 = h[2]!;
  let h3 = h[3]!;
  let h4 = h[4]!;
  const w = W;
  for (; off < end; off += 64) {
    for (let t = 0; t < 16; t++) {
      const j = off + t * 4;
      w[t] = (buf[j]! << 24) | (buf[j + 1]! << 16) | (buf[j + 2]! << 8) | buf[j + 3]!;
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    // Four rounds of 20 steps, unrolled by round so no step branches on t.
    let t = 0;
    for (; t < 20; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + e + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 40; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + e + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 60; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc + e + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 80; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0xca62c1d6 + e + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
  h[4] = h4;
}

const H = new Int32Array(5);

/** Pure-JavaScript SHA-1. */
export const sha1: Sha1 = (data: Uint8Array): Uint8Array => {
  H[0] = 0x67452301;
  H[1] = 0xefcdab89;
  H[2] = 0x98badcfe;
  H[3] = 0x10325476;
  H[4] = 0xc3d2e1f0;
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
