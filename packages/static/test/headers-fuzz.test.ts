// Garbage in the request headers the cache parses (Range, Accept-Encoding, If-None-Match,
// If-Modified-Since): properties over arbitrary strings, and a short fixed-seed run of the fuzz
// engine (`npm run fuzz -w @wirehouse/static` runs it for longer).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkHeader, prng, runFuzz } from "../fuzz/engine.ts";
import { parseRange } from "../src/http.ts";

describe("request headers on garbage", () => {
  it("no header string throws, and every parse stays in range (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "grapheme", maxLength: 40 })),
        fc.oneof(fc.constantFrom(0, 1, 2, 4096), fc.integer({ min: 0, max: 2 ** 40 })),
        (header, length) => {
          assert.equal(checkHeader(header, length), null);
          assert.equal(checkHeader(`bytes=${header}`, length), null);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("a valid single range names exactly its bytes, clamped to the length (property)", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.nat(10_000), (start, span, length) => {
        const got = parseRange(`bytes=${start}-${start + span}`, length);
        if (start >= length) assert.equal(got, "unsatisfiable");
        else assert.deepEqual(got, { start, end: Math.min(start + span, length - 1) });
      }),
      { numRuns: 2000 },
    );
  });

  it("the fuzz engine's invariants hold for 3 × 20,000 cases from fixed seeds", () => {
    for (const seed of [1, 2024, 777_777]) {
      const { cases, failure } = runFuzz(seed, Number.POSITIVE_INFINITY, 20_000);
      assert.equal(failure, null, failure ? `${failure.what} (seed ${seed}, case ${failure.index})` : "");
      assert.equal(cases, 20_000);
    }
  });

  it("the fuzz engine's generator replays from its seed", () => {
    const a = prng(7);
    const b = prng(7);
    const xs = Array.from({ length: 5 }, () => a());
    assert.deepEqual(
      Array.from({ length: 5 }, () => b()),
      xs,
    );
    assert.notDeepEqual(Array.from({ length: 5 }, prng(8)), xs);
  });
});
