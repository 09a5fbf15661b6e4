/**
 * Masking (RFC 6455 §5.3): XOR with a 4-byte key, in place, a 32-bit word at a time.
 * @module
 */

import { simdAvailable, simdXor, simdXorCopy } from "./mask-simd.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** From this many bytes the WebAssembly SIMD kernel beats the JavaScript word loop. */
export const SIMD_THRESHOLD = 1024;

/**
 * Below this many bytes an unrolled byte loop beats creating a Uint32Array view (which also
 * forces V8 to move a small on-heap typed array's bytes off the heap: ~3 µs on a 32 B array).
 */
const WORD_THRESHOLD = 128;

/**
 * XORs `data` in place with the 4-byte `key`; `offset` is the position of `data[0]`
 * inside the frame payload (so a payload that arrives in pieces can be unmasked piece by
 * piece). Masking twice with the same key and offset restores the input.
 */
export function mask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  maskRange(data, 0, data.length, key[0]!, key[1]!, key[2]!, key[3]!, offset);
}

/** Alias of {@link mask}: unmasking is the same XOR. */
export const unmask: (data: Uint8Array, key: Uint8Array, offset?: number) => void = mask;

/**
 * XORs `buf[start..end)` in place with the key bytes `k0..k3`, where `buf[start]` is at
 * payload position `phase` (only `phase & 3` matters).
 */
export function maskRange(
  buf: Uint8Array,
  start: number,
  end: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
  phase: number,
): void {
  // Rotate the key so that position `start` uses key byte 0.
  switch (phase & 3) {
    case 1: {
      const t = k0;
      k0 = k1;
      k1 = k2;
      k2 = k3;
      k3 = t;
      break;
    }
    case 2: {
      let t = k0;
      k0 = k2;
      k2 = t;
      t = k1;
      k1 = k3;
      k3 = t;
      break;
    }
    case 3: {
      const t = k3;
      k3 = k2;
      k2 = k1;
      k1 = k0;
      k0 = t;
      break;
    }
  }
  let i = start;
  if (end - start >= SIMD_THRESHOLD && LITTLE_ENDIAN && simdAvailable()) {
    // The bulk in WebAssembly, 64 bytes per step; the key phase is unchanged after it.
    const bulk = (end - start) & ~63;
    simdXor(buf, start, start + bulk, k0 | (k1 << 8) | (k2 << 16) | (k3 << 24));
    i += bulk;
  }
  if (end - i >= WORD_THRESHOLD) {
    // Byte loop up to a 4-byte aligned address, then whole words.
    const head = (4 - ((buf.byteOffset + i) & 3)) & 3;
    for (let h = 0; h < head; h++, i++) {
      buf[i] = buf[i]! ^ (h === 0 ? k0 : h === 1 ? k1 : k2);
    }
    // After `head` bytes the key has advanced by `head` positions.
    let a = k0;
    let b = k1;
    let c = k2;
    let d = k3;
    if (head === 1) {
      a = k1;
      b = k2;
      c = k3;
      d = k0;
    } else if (head === 2) {
      a = k2;
      b = k3;
      c = k0;
      d = k1;
    } else if (head === 3) {
      a = k3;
      b = k0;
      c = k1;
      d = k2;
    }
    const words = (end - i) >>> 2;
    // Int32Array, 8 words per step: int32 loads and XORs stay untagged 32-bit values in V8 and
    // JavaScriptCore (a Uint32Array load above 2^31 is not an int32); measured 1.2–2× the old
    // 4-step Uint32Array loop on all three runtimes.
    const word = LITTLE_ENDIAN ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) | (c << 8) | d;
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    let j = 0;
    const unrolled = words & ~7;
    for (; j < unrolled; j += 8) {
      w[j] = w[j]! ^ word;
      w[j + 1] = w[j + 1]! ^ word;
      w[j + 2] = w[j + 2]! ^ word;
      w[j + 3] = w[j + 3]! ^ word;
      w[j + 4] = w[j + 4]! ^ word;
      w[j + 5] = w[j + 5]! ^ word;
      w[j + 6] = w[j + 6]! ^ word;
      w[j + 7] = w[j + 7]! ^ word;
    }
    for (; j < words; j++) w[j] = w[j]! ^ word;
    i += words << 2;
    k0 = a;
    k1 = b;
    k2 = c;
    k3 = d;
  }
  // Tail (or the whole of a short buffer), 4 bytes per step; position `i` uses key byte k0.
  for (; i + 4 <= end; i += 4) {
    buf[i] = buf[i]! ^ k0;
    buf[i + 1] = buf[i + 1]! ^ k1;
    buf[i + 2] = buf[i + 2]! ^ k2;
    buf[i + 3] = buf[i + 3]! ^ k3;
  }
  if (i < end) buf[i] = buf[i]! ^ k0;
  if (i + 1 < end) buf[i + 1] = buf[i + 1]! ^ k1;
  if (i + 2 < end) buf[i + 2] = buf[i + 2]! ^ k2;
}

/**
 * Writes `src` XOR the key bytes `k0..k3` (key byte 0 at `src[0]`) into `dst` at `at`, leaving
 * `src` untouched. For large payloads the WebAssembly kernel does it in the two copies it needs
 * anyway, instead of a copy followed by an in-place mask (one pass over the bytes fewer).
 */
export function maskCopy(
  src: Uint8Array,
  dst: Uint8Array,
  at: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
): void {
  const n = src.length;
  let done = 0;
  if (n >= SIMD_THRESHOLD && LITTLE_ENDIAN && simdAvailable()) {
    done = n & ~63; // a multiple of 4: the key phase after it is unchanged
    simdXorCopy(src, 0, dst, at, done, k0 | (k1 << 8) | (k2 << 16) | (k3 << 24));
  }
  if (done < n) {
    dst.set(src.subarray(done), at + done);
    maskRange(dst, at + done, at + n, k0, k1, k2, k3, 0);
  }
}

const POOL_SIZE = 4096;
let pool = new Uint8Array(0);
let poolPos = POOL_SIZE;

/**
 * Writes 4 random bytes (from `crypto.getRandomValues`, refilled in batches of 4 KiB)
 * into `target` at `at`. RFC 6455 §5.3: the key must be unpredictable.
 */
export function writeRandomMaskKey(target: Uint8Array, at: number): void {
  if (poolPos + 4 > POOL_SIZE) {
    if (pool.length === 0) pool = new Uint8Array(POOL_SIZE);
    crypto.getRandomValues(pool);
    poolPos = 0;
  }
  target[at] = pool[poolPos]!;
  target[at + 1] = pool[poolPos + 1]!;
  target[at + 2] = pool[poolPos + 2]!;
  target[at + 3] = pool[poolPos + 3]!;
  poolPos += 4;
}

/** A fresh random 4-byte masking key. */
export function randomMaskKey(): Uint8Array {
  const key = new Uint8Array(4);
  writeRandomMaskKey(key, 0);
  return key;
}
