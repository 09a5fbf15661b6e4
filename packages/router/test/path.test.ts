import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isPathError, normalizePath, PathError } from "../src/index.ts";

function ok(raw: string, expected: string) {
  const got = normalizePath(raw);
  assert.equal(got, expected, `${JSON.stringify(raw)} → ${JSON.stringify(got)}`);
}

function bad(raw: string, code: string) {
  const got = normalizePath(raw);
  assert.ok(isPathError(got), `${JSON.stringify(raw)} should be refused, got ${JSON.stringify(got)}`);
  assert.equal(got.status, 400);
  assert.equal(got.code, code, raw);
}

describe("normalizePath", () => {
  it("returns clean paths unchanged (the same string)", () => {
    const p = "/static/app.js";
    assert.equal(normalizePath(p), p);
    ok("/", "/");
    ok("/a/b/", "/a/b/");
    ok("/a.b/c.d", "/a.b/c.d");
  });

  it("drops the query", () => {
    ok("/a/b?x=1", "/a/b");
    ok("/?", "/");
    ok("/a%20b?%zz", "/a b");
  });

  it("requires an absolute path", () => {
    bad("", "not-absolute");
    bad("a/b", "not-absolute");
    bad("*", "not-absolute");
    bad("http://x/a", "not-absolute");
    bad("?a", "not-absolute");
  });

  it("percent-decodes exactly once", () => {
    ok("/a%20b", "/a b");
    ok("/%41%42c", "/ABc");
    ok("/%2541", "/%41");
    ok("/caf%C3%A9", "/café");
    ok("/%e2%82%ac", "/€");
    ok("/%F0%9F%98%80", "/😀");
  });

  it("refuses bad escapes", () => {
    bad("/%", "bad-escape");
    bad("/%4", "bad-escape");
    bad("/%4g", "bad-escape");
    bad("/%zz", "bad-escape");
    bad("/a%?b", "bad-escape");
    bad("/a%4?b", "bad-escape");
  });

  it("refuses invalid UTF-8 (overlongs, surrogates, truncation)", () => {
    bad("/%C0%AE", "bad-utf8");
    bad("/%C0%AF", "bad-utf8");
    bad("/%E0%80%AE", "bad-utf8");
    bad("/%ED%A0%80", "bad-utf8");
    bad("/%C3", "bad-utf8");
    bad("/%FF", "bad-utf8");
    bad("/%80", "bad-utf8");
  });

  it("refuses NUL, encoded slashes and backslashes", () => {
    bad("/a\0b", "nul");
    bad("/a%00b", "nul");
    bad("/a%2fb", "encoded-slash");
    bad("/a%2Fb", "encoded-slash");
    bad("/..%2f..%2fetc/passwd", "encoded-slash");
    bad("/a\\b", "backslash");
    bad("/..\\..\\x", "backslash");
    bad("/a%5cb", "backslash");
    bad("/a%5C..%5Cb", "backslash");
  });

  it("resolves dot segments without leaving the root", () => {
    ok("/a/./b", "/a/b");
    ok("/a/../b", "/b");
    ok("/../../etc/passwd", "/etc/passwd");
    ok("/a/b/../../../../c", "/c");
    ok("/a/..", "/");
    ok("/a/b/..", "/a/");
    ok("/a/.", "/a/");
    ok("/.", "/");
    ok("/..", "/");
    ok("/%2e%2e/%2e%2e/x", "/x");
    ok("/%2E%2e/a", "/a");
    ok("/a/.%2e/b", "/b");
    ok("/a/%2e/b", "/a/b");
  });

  it("keeps names that merely contain dots", () => {
    ok("/.well-known/x", "/.well-known/x");
    ok("/...", "/...");
    ok("/a/..b/c", "/a/..b/c");
    ok("/a/b../c", "/a/b../c");
  });

  it("collapses empty segments", () => {
    ok("//a", "/a");
    ok("/a//b", "/a/b");
    ok("/a///", "/a/");
    ok("////", "/");
  });

  it("keeps an encoded '?' as part of the path: it is data, not the start of a query", () => {
    ok("/%3f", "/?");
    ok("/a%3Fb?c=d", "/a?b");
  });

  it("returns PathError values, not exceptions", () => {
    assert.ok(normalizePath("nope") instanceof PathError);
  });

  // Idempotent only where the result reads the same as a request target: a '%' or a '?' in it is data
  // that was encoded ('%25', '%3f'), and would be read as an escape or a query the second time.
  it("property: the result is either an error or a canonical absolute path, and normalising is idempotent on paths without '%' or '?'", () => {
    const seg = fc.oneof(
      fc.constantFrom(
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        "a",
        "b.c",
        "%41",
        "%25",
        "%3f",
        "%2f",
        "%00",
        "\\",
        "é",
        "%C3%A9",
        "%",
        "%zz",
      ),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 8 }), (segs) => {
        const raw = "/" + segs.join("/");
        const got = normalizePath(raw);
        if (isPathError(got)) return;
        assert.ok(got.startsWith("/"));
        assert.ok(!got.includes("//"), got);
        assert.ok(!got.includes("\0"));
        for (const s of got.split("/")) assert.ok(s !== "." && s !== "..", got);
        if (!got.includes("%") && !got.includes("?")) assert.equal(normalizePath(got), got);
      }),
      { numRuns: 2000 },
    );
  });
});
