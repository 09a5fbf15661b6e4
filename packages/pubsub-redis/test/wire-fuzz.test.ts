// Garbage on the adapter's two wire formats (the Redis envelope and the relay's frames): properties over
// arbitrary bytes, and a short fixed-seed run of the fuzz engine (`npm run fuzz` runs it for longer).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { runFuzz } from "../fuzz/engine.ts";
import { decodeEnvelope, HEADER_SIZE } from "../src/envelope.ts";
import { decodePub, FrameReader } from "../src/socket-relay.ts";

/** The frames (as text, copied) and whether the reader refused, pushing `pieces` in order. */
function read(pieces: Uint8Array[], maxFrame: number): { frames: string[]; refused: boolean } {
  const reader = new FrameReader(maxFrame);
  const frames: string[] = [];
  for (const p of pieces) {
    if (!reader.push(p, (f) => frames.push(f.join(",")))) return { frames, refused: true };
  }
  return { frames, refused: false };
}

describe("wire formats on garbage", () => {
  it("decodeEnvelope never throws, and what it accepts adds up to its bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, versionOne) => {
        if (versionOne && bytes.length > 0) bytes[0] = 1;
        const e = decodeEnvelope(bytes);
        if (e === null) return;
        assert.equal(bytes[0], 1);
        assert.ok(bytes[2]! > 0);
        assert.equal(HEADER_SIZE + bytes[2]! + e.payload.length, bytes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it("FrameReader gives the same frames and the same refusal however garbage is split (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }),
        fc.constantFrom(16, 256, 1 << 20),
        fc.boolean(),
        (bytes, cuts, maxFrame, smallPrefix) => {
          // Small length prefixes make whole frames likely (random ones are mostly refused at once).
          if (smallPrefix && bytes.length >= 4) bytes.set([0, 0, 0, bytes[3]! % 24], 0);
          const pieces: Uint8Array[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length]!;
            pieces.push(bytes.subarray(at, at + n));
            at += n;
          }
          const whole = read([bytes], maxFrame);
          assert.deepEqual(read(pieces, maxFrame), whole);
          for (const f of whole.frames) {
            const frame = new Uint8Array(f.split(",").map(Number));
            const pub = decodePub(frame);
            if (pub !== null) assert.ok(pub.payload.length <= frame.length - 8);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("the fuzz engine's invariants hold for 3 × 5,000 cases from fixed seeds", () => {
    for (const seed of [1, 2024, 777_777]) {
      const { cases, failure } = runFuzz(seed, Number.POSITIVE_INFINITY, 5000);
      assert.equal(failure, null, failure ? `${failure.what} (seed ${seed}, case ${failure.index})` : "");
      assert.equal(cases, 5000);
    }
  });
});
