import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  chooseCoding,
  headerOf,
  noneMatchHits,
  notModifiedSince,
  parseAcceptEncoding,
  parseRange,
} from "../src/index.ts";

describe("Accept-Encoding", () => {
  const pick = (h: string | null, br = true, gz = true) => chooseCoding(parseAcceptEncoding(h), br, gz);

  it("defaults to identity", () => {
    assert.equal(pick(null), "identity");
    assert.equal(pick(""), "identity");
  });

  it("prefers br, then gzip, on equal q", () => {
    assert.equal(pick("gzip, deflate, br, zstd"), "br");
    assert.equal(pick("gzip, deflate, br", false), "gzip");
    assert.equal(pick("gzip"), "gzip");
    assert.equal(pick("x-gzip"), "gzip");
    assert.equal(pick("br", false, true), "identity");
  });

  it("follows q-values", () => {
    assert.equal(pick("br;q=0.5, gzip;q=0.8"), "gzip");
    assert.equal(pick("br;q=0, gzip"), "gzip");
    assert.equal(pick("br;q=0, gzip;q=0"), "identity");
    assert.equal(pick("gzip;q=0.5, identity;q=1"), "identity");
    assert.equal(pick("BR;Q=1.0, gzip;q=0.9"), "br");
    assert.equal(pick("*"), "br");
    assert.equal(pick("*;q=0.5, br;q=0"), "gzip");
    assert.equal(pick("identity;q=0, *;q=0"), "identity", "nothing acceptable: identity anyway");
  });

  it("drops malformed elements", () => {
    assert.equal(pick("br;q=2, gzip"), "gzip");
    assert.equal(pick("br;q=abc"), "identity");
    assert.equal(pick("br;foo=1"), "identity");
  });
});

describe("conditionals", () => {
  it("If-None-Match uses weak comparison", () => {
    assert.ok(noneMatchHits('"abc"', '"abc"'));
    assert.ok(noneMatchHits('W/"abc"', '"abc"'));
    assert.ok(noneMatchHits('"x", "abc"', '"abc"'));
    assert.ok(noneMatchHits("*", '"abc"'));
    assert.ok(!noneMatchHits('"abcd"', '"abc"'));
    assert.ok(!noneMatchHits("abc", '"abc"'));
  });

  it("If-Modified-Since compares whole seconds", () => {
    const lm = new Date(1_700_000_000_000).toUTCString();
    assert.ok(notModifiedSince(lm, lm, 1_700_000_000));
    assert.ok(notModifiedSince(new Date(1_700_000_005_000).toUTCString(), lm, 1_700_000_000));
    assert.ok(!notModifiedSince(new Date(1_699_999_999_000).toUTCString(), lm, 1_700_000_000));
    assert.ok(!notModifiedSince("yesterday", lm, 1_700_000_000));
  });
});

describe("Range", () => {
  it("parses single ranges", () => {
    assert.deepEqual(parseRange("bytes=0-4", 10), { start: 0, end: 4 });
    assert.deepEqual(parseRange("bytes=5-", 10), { start: 5, end: 9 });
    assert.deepEqual(parseRange("bytes=-3", 10), { start: 7, end: 9 });
    assert.deepEqual(parseRange("bytes=-30", 10), { start: 0, end: 9 });
    assert.deepEqual(parseRange("bytes=8-100", 10), { start: 8, end: 9 });
    assert.deepEqual(parseRange("Bytes = 1-1", 10), { start: 1, end: 1 });
  });

  it("reports unsatisfiable ranges", () => {
    assert.equal(parseRange("bytes=10-", 10), "unsatisfiable");
    assert.equal(parseRange("bytes=10-20", 10), "unsatisfiable");
    assert.equal(parseRange("bytes=-0", 10), "unsatisfiable");
    assert.equal(parseRange("bytes=0-", 0), "unsatisfiable");
  });

  it("ignores what it does not serve", () => {
    assert.equal(parseRange("bytes=0-1,3-4", 10), null);
    assert.equal(parseRange("items=0-1", 10), null);
    assert.equal(parseRange("bytes=5-2", 10), null);
    assert.equal(parseRange("bytes=a-b", 10), null);
    assert.equal(parseRange("bytes=-", 10), null);
    assert.equal(parseRange("bytes=1", 10), null);
  });
});

describe("headerOf", () => {
  it("reads get() objects and records", () => {
    assert.equal(headerOf(new Headers({ Range: "bytes=0-1" }), "range"), "bytes=0-1");
    assert.equal(headerOf({ range: "x" }, "range"), "x");
    assert.equal(headerOf({ range: ["a", "b"] }, "range"), "a, b");
    assert.equal(headerOf({}, "range"), null);
    assert.equal(headerOf({ get: () => undefined }, "range"), null);
  });
});
