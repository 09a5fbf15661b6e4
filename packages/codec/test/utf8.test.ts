import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isValidUtf8, UTF8_INVALID, Utf8Validator, utf8Step } from "../src/index.ts";
import { bytes, te } from "./helpers.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });
function reference(data: Uint8Array): boolean {
  try {
    fatal.decode(data);
    return true;
  } catch {
    return false;
  }
}

describe("utf8", () => {
  it("agrees with TextDecoder (fatal) on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        assert.equal(isValidUtf8(data), reference(data));
      }),
      { numRuns: 2000 },
    );
  });
  it("accepts every string TextEncoder produces, split anywhere", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), fc.nat(200), (s, cut) => {
        const data = te.encode(s);
        const at = Math.min(cut, data.length);
        const v = new Utf8Validator();
        assert.ok(v.push(data.subarray(0, at)));
        assert.ok(v.push(data.subarray(at)));
        assert.ok(v.end());
      }),
    );
  });
  it("rejects overlongs, surrogates, code points above U+10FFFF and stray continuations", () => {
    for (const bad of [
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xe0, 0x80, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf0, 0x80, 0x80, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0x80],
      [0xff],
    ]) {
      assert.equal(isValidUtf8(bytes(...bad)), false, bad.join(","));
    }
    assert.equal(isValidUtf8(bytes(0xf4, 0x8f, 0xbf, 0xbf)), true);
    assert.equal(isValidUtf8(bytes(0xed, 0x9f, 0xbf)), true);
  });
  it("fails at the offending byte, not at the end", () => {
    // 0xce 0xba is 'κ'; 0xce then 0x41 is invalid as soon as 0x41 arrives.
    const s = utf8Step(0, bytes(0xce), 0, 1);
    assert.notEqual(s, 0);
    assert.notEqual(s, UTF8_INVALID);
    assert.equal(utf8Step(s, bytes(0x41), 0, 1), UTF8_INVALID);
  });
  it("reports an incomplete sequence at the end", () => {
    const v = new Utf8Validator();
    assert.ok(v.push(bytes(0xe2, 0x82)));
    assert.equal(v.end(), false);
  });
});
