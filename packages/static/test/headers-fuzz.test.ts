// Garbage in the request headers the cache parses (Range, Accept-Encoding, If-None-Match,
// If-Modified-Since): properties over arbitrary strings, and a short fixed-seed run of the fuzz
// engine (`npm run fuzz -w @wirehouse/static` runs it for longer).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fuzzOptions, prng } from "../../../scripts/fuzz-kit.ts";
import { checkHeader, runFuzz } from "../fuzz/engine.ts";
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
});

// scripts/fuzz-kit.ts serves every package's fuzz campaign; it is tested here, in one place.
describe("the shared fuzz kit", () => {
  it("its generator replays from its seed, in [0, 1)", () => {
    const a = prng(7);
    const b = prng(7);
    const xs = Array.from({ length: 5 }, () => a());
    assert.deepEqual(
      Array.from({ length: 5 }, () => b()),
      xs,
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(Array.from({ length: 5 }, prng(8)), xs);
    // mulberry32's first output for seed 1, so a seed replays campaigns recorded before the kit existed.
    assert.equal(prng(1)(), 0.6270739405881613);
  });

  it("reads --seconds and --seed, with defaults, and refuses nonsense", () => {
    assert.deepEqual(fuzzOptions(["--seconds", "5", "--seed", "42"], 60), { seconds: 5, seed: 42 });
    const d = fuzzOptions([], 60);
    assert.equal(d.seconds, 60);
    assert.ok(Number.isInteger(d.seed) && d.seed >= 0 && d.seed < 2 ** 31);
    assert.throws(() => fuzzOptions(["--seconds", "soon"], 60), RangeError);
    assert.throws(() => fuzzOptions(["--seed", "1.5"], 60), RangeError);
  });
});
