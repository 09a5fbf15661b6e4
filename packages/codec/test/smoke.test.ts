import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import fc from "fast-check";

describe("smoke", () => {
  it("adds", () => {
    assert.equal(1 + 1, 2);
  });
  it("property", () => {
    fc.assert(fc.property(fc.integer(), (n) => n + 0 === n));
  });
  it("async", async () => {
    await Promise.resolve();
    assert.ok(true);
  });
});
test("top", () => {
  assert.deepEqual(new Uint8Array([1]), new Uint8Array([1]));
});
