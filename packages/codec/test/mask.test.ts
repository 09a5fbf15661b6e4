import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { mask, randomMaskKey } from "../src/index.ts";
import { maskCopy } from "../src/mask.ts";
import { SIMD_BLOCK, simdAvailable } from "../src/mask-simd.ts";

function naive(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((b, i) => b ^ key[(i + offset) & 3]!);
}

describe("mask", () => {
  it("mask∘mask is the identity (any alignment, length and offset)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(3),
        (data, key, shift, offset) => {
          const buf = new Uint8Array(data.length + shift);
          const view = buf.subarray(shift);
          view.set(data);
          mask(view, key, offset);
          assert.deepEqual(view, naive(data, key, offset));
          mask(view, key, offset);
          assert.deepEqual(view, data);
        },
      ),
    );
  });
  it("does not touch bytes outside the view", () => {
    const buf = new Uint8Array(100);
    mask(buf.subarray(3, 97), new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual([buf[0], buf[1], buf[2], buf[97], buf[98], buf[99]], [0, 0, 0, 0, 0, 0]);
    assert.equal(buf[3], 1);
    assert.equal(buf[96], 2);
  });
  it("masking in pieces with offsets equals masking at once", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }),
        (data, cuts) => {
          const key = randomMaskKey();
          const whole = data.slice();
          mask(whole, key);
          const pieces = data.slice();
          let at = 0;
          let i = 0;
          while (at < pieces.length) {
            const end = Math.min(pieces.length, at + cuts[i++ % cuts.length]!);
            mask(pieces.subarray(at, end), key, at);
            at = end;
          }
          assert.deepEqual(pieces, whole);
        },
      ),
    );
  });
  it("the WebAssembly SIMD path (large buffers) matches the byte loop at any alignment and offset", () => {
    assert.ok(simdAvailable(), "WebAssembly SIMD is available on Node, Deno and Bun");
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 3 * SIMD_BLOCK + 100 }),
        fc.nat(7),
        fc.nat(3),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, shift, offset, key) => {
          const data = new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);
          const buf = new Uint8Array(length + shift + 5).fill(0xaa);
          const view = buf.subarray(shift, shift + length);
          view.set(data);
          mask(view, key, offset);
          assert.deepEqual(view, naive(data, key, offset));
          assert.ok(buf.subarray(0, shift).every((b) => b === 0xaa));
          assert.ok(buf.subarray(shift + length).every((b) => b === 0xaa));
        },
      ),
      { numRuns: 40 },
    );
  });
  it("the JavaScript word loop (128 B – 1 KiB) matches the byte loop at any alignment and offset", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 128, max: 1100 }),
        fc.nat(7),
        fc.nat(3),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, shift, offset, key) => {
          const data = new Uint8Array(length).map((_, i) => (i * 13 + 5) & 0xff);
          const buf = new Uint8Array(length + shift + 9).fill(0x55);
          const view = buf.subarray(shift, shift + length);
          view.set(data);
          mask(view, key, offset);
          assert.deepEqual(view, naive(data, key, offset));
          assert.ok(buf.subarray(0, shift).every((b) => b === 0x55));
          assert.ok(buf.subarray(shift + length).every((b) => b === 0x55));
        },
      ),
      { numRuns: 60 },
    );
  });
  it("maskCopy writes the masked bytes at any position, leaving the source and the rest untouched", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 1000, max: 2 * SIMD_BLOCK + 200 })),
        fc.nat(9),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, at, key) => {
          const src = new Uint8Array(length).map((_, i) => (i * 7 + 3) & 0xff);
          const before = src.slice();
          const dst = new Uint8Array(at + length + 5).fill(0xcc);
          maskCopy(src, dst, at, key[0]!, key[1]!, key[2]!, key[3]!);
          assert.deepEqual(src, before);
          assert.deepEqual(dst.subarray(at, at + length), naive(src, key, 0));
          assert.ok(dst.subarray(0, at).every((b) => b === 0xcc));
          assert.ok(dst.subarray(at + length).every((b) => b === 0xcc));
        },
      ),
      { numRuns: 40 },
    );
  });
});
