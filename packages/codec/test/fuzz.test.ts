import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { caseFromJson, checkCase, runFuzz } from "../fuzz/engine.ts";

const fuzzDir = join(dirname(fileURLToPath(import.meta.url)), "..", "fuzz");

function inputs(): string[] {
  const files: string[] = [];
  for (const sub of ["corpus", "failures"]) {
    let names: string[] = [];
    try {
      names = readdirSync(join(fuzzDir, sub));
    } catch {
      continue; // fuzz/failures/ exists only after a failing campaign
    }
    for (const n of names.sort()) if (n.endsWith(".json")) files.push(join(fuzzDir, sub, n));
  }
  return files;
}

describe("fuzz", () => {
  it("replays every committed fuzz input", () => {
    const files = inputs();
    assert.ok(files.length >= 40, "the corpus is committed");
    for (const file of files) {
      const message = checkCase(caseFromJson(JSON.parse(readFileSync(file, "utf8"))));
      assert.equal(message, undefined, `${file}: ${message}`);
    }
  });
  it("a short campaign (2 s) finds no failure", () => {
    const seed = 20261123;
    const result = runFuzz(2, seed);
    assert.ok(result.cases > 10);
    assert.deepEqual(
      result.failures.map((f) => f.message),
      [],
    );
  });
});
