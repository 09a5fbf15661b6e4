import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeHost, Router } from "../src/index.ts";

describe("normalizeHost", () => {
  it("lower-cases, strips the port and one trailing dot", () => {
    assert.equal(normalizeHost("Example.COM"), "example.com");
    assert.equal(normalizeHost("example.com:8080"), "example.com");
    assert.equal(normalizeHost("example.com."), "example.com");
    assert.equal(normalizeHost("Example.com.:443"), "example.com");
    assert.equal(normalizeHost("127.0.0.1:80"), "127.0.0.1");
    assert.equal(normalizeHost("[::1]:8080"), "[::1]");
    assert.equal(normalizeHost("[::1]"), "[::1]");
    assert.equal(normalizeHost("::1"), "::1");
  });
});

describe("host lookup", () => {
  const router = new Router<string>([
    { name: "main", hosts: ["example.com"], aliases: ["www.example.com", "example.org"], fallback: { kind: "main" } },
    { name: "wild", hosts: ["*.example.com"], fallback: { kind: "wild" } },
    { name: "deep", hosts: ["*.api.example.com"], fallback: { kind: "deep" } },
    { name: "exact-under-wild", hosts: ["special.example.com"], fallback: { kind: "special" } },
    { name: "dflt", default: true, fallback: { kind: "default" } },
  ]);
  const kind = (host: string | null | undefined) => router.match(host, "/")?.route.kind;

  it("matches exact names case-insensitively, without port or trailing dot", () => {
    assert.equal(kind("example.com"), "main");
    assert.equal(kind("EXAMPLE.com:8080"), "main");
    assert.equal(kind("example.com."), "main");
    assert.equal(kind("example.com.:80"), "main");
  });

  it("matches aliases", () => {
    assert.equal(kind("www.example.com"), "main");
    assert.equal(kind("Example.Org"), "main");
  });

  it("matches wildcards at any depth, longest suffix first, exact names first", () => {
    assert.equal(kind("a.example.com"), "wild");
    assert.equal(kind("a.b.example.com"), "wild");
    assert.equal(kind("v1.api.example.com"), "deep");
    assert.equal(kind("x.v1.api.example.com"), "deep");
    assert.equal(kind("api.example.com"), "wild");
    assert.equal(kind("special.example.com"), "special");
    assert.equal(kind("x.special.example.com"), "wild");
  });

  it("falls back to the default site", () => {
    assert.equal(kind("other.net"), "default");
    assert.equal(kind("example.com.evil.net"), "default");
    assert.equal(kind("notexample.com"), "default");
    assert.equal(kind(""), "default");
    assert.equal(kind(null), "default");
    assert.equal(kind(undefined), "default");
  });

  it("answers null without a default site", () => {
    const r = new Router<string>([{ hosts: ["a.test"], fallback: { kind: "a" } }]);
    assert.equal(r.match("b.test", "/"), null);
    assert.equal(r.match(undefined, "/"), null);
    assert.equal(r.match("A.TEST:1", "/")?.route.kind, "a");
  });

  it("gives the same answer from the cache", () => {
    for (let i = 0; i < 3; i++) assert.equal(kind("WWW.example.com:443"), "main");
  });

  it("refuses a host name claimed twice and a second default", () => {
    assert.throws(() => router.addSite({ hosts: ["Example.com"] }), /already belongs/);
    assert.throws(() => router.addSite({ hosts: ["*.example.com"] }), /already belongs/);
    assert.throws(() => router.addSite({ default: true }), /already the default/);
    assert.throws(() => router.addSite({ hosts: ["a*b.com"] }), /bad host/);
  });

  it("sees hosts added after lookups", () => {
    const r = new Router<string>([{ default: true, fallback: { kind: "d" } }]);
    assert.equal(r.match("late.test", "/")?.route.kind, "d");
    r.addSite({ hosts: ["late.test"], fallback: { kind: "late" } });
    assert.equal(r.match("late.test", "/")?.route.kind, "late");
  });
});
