import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { prng } from "../../../scripts/fuzz-kit.ts";
import { campaign, check, inputName } from "../fuzz/targets.ts";

const dir = new URL("../fuzz/corpus/", import.meta.url);
const corpus = readdirSync(dir)
  .filter((f) => f.endsWith(".bin"))
  .sort()
  .map((f) => ({ name: f, input: new Uint8Array(readFileSync(new URL(f, dir))) }));

describe("fuzz corpus and a short campaign", () => {
  it("has committed inputs", () => {
    assert.ok(corpus.length >= 10);
  });
  for (const { name, input } of corpus) {
    it(`replays ${name}`, () => {
      for (let s = 1; s <= 20; s++) check(input, prng(s));
    });
  }
  it("a ~2 s mutation campaign finds no failure", () => {
    const result = campaign(
      20261123,
      2000,
      corpus.map((c) => c.input),
    );
    const first = result.failures[0];
    assert.equal(result.failures.length, 0, first ? `input ${inputName(first.input)}: ${first.error}` : "");
    assert.ok(result.iterations > 100);
  });
});
