import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parsePattern, Router, Site } from "../src/index.ts";

function site(patterns: string[], fallback = false): Site<string> {
  const s = new Site<string>("t");
  for (const p of patterns) s.add(p, p);
  if (fallback) s.setFallback("fallback");
  return s;
}

function m(s: Site<string>, path: string) {
  const r = s.match(path);
  return r === null ? null : { kind: r.route.kind, params: { ...r.params }, rest: r.rest };
}

describe("path matching", () => {
  it("matches exact paths", () => {
    const s = site(["/", "/a", "/a/b", "/a/"]);
    assert.deepEqual(m(s, "/"), { kind: "/", params: {}, rest: "" });
    assert.deepEqual(m(s, "/a"), { kind: "/a", params: {}, rest: "" });
    assert.deepEqual(m(s, "/a/"), { kind: "/a/", params: {}, rest: "" });
    assert.deepEqual(m(s, "/a/b"), { kind: "/a/b", params: {}, rest: "" });
    assert.equal(m(s, "/ab"), null);
    assert.equal(m(s, "/a/b/"), null);
    assert.equal(m(s, "/A"), null);
  });

  it("matches prefixes and reports the remaining path", () => {
    const s = site(["/static/*", "/*"]);
    assert.deepEqual(m(s, "/static/a/b.css"), { kind: "/static/*", params: {}, rest: "/a/b.css" });
    assert.deepEqual(m(s, "/static/"), { kind: "/static/*", params: {}, rest: "/" });
    assert.deepEqual(m(s, "/static"), { kind: "/static/*", params: {}, rest: "" });
    assert.deepEqual(m(s, "/staticx"), { kind: "/*", params: {}, rest: "/staticx" });
    assert.deepEqual(m(s, "/"), { kind: "/*", params: {}, rest: "/" });
  });

  it("matches parameters (one non-empty segment each)", () => {
    const s = site(["/chat/:room", "/u/:id/files/*", "/x/:a/:b"]);
    assert.deepEqual(m(s, "/chat/lobby"), { kind: "/chat/:room", params: { room: "lobby" }, rest: "" });
    assert.deepEqual(m(s, "/chat/é x"), { kind: "/chat/:room", params: { room: "é x" }, rest: "" });
    assert.equal(m(s, "/chat/"), null);
    assert.equal(m(s, "/chat/a/b"), null);
    assert.deepEqual(m(s, "/u/7/files/a/b"), { kind: "/u/:id/files/*", params: { id: "7" }, rest: "/a/b" });
    assert.deepEqual(m(s, "/x/1/2"), { kind: "/x/:a/:b", params: { a: "1", b: "2" }, rest: "" });
  });

  it("prefers literal over parameter over prefix, segment by segment, with backtracking", () => {
    const s = site(["/a/b", "/a/:x", "/a/*", "/:y/b", "/:y/:z/c", "/a/b/c/*"]);
    assert.equal(m(s, "/a/b")?.kind, "/a/b");
    assert.equal(m(s, "/a/q")?.kind, "/a/:x");
    assert.equal(m(s, "/a/q/r")?.kind, "/a/*");
    assert.equal(m(s, "/q/b")?.kind, "/:y/b");
    assert.equal(m(s, "/a/b/c")?.kind, "/a/b/c/*");
    assert.equal(m(s, "/a/q/c")?.kind, "/a/*", "a literal first segment beats a parameter, whatever follows");
    assert.equal(m(s, "/q/q/c")?.kind, "/:y/:z/c");
    assert.equal(m(s, "/a")?.kind, "/a/*");
  });

  it("prefers an exact route to a prefix ending at the same place", () => {
    const s = site(["/static/*", "/static"]);
    assert.equal(m(s, "/static")?.kind, "/static");
    assert.equal(m(s, "/static/x")?.kind, "/static/*");
  });

  it("uses the fallback for everything else, with the whole path as rest", () => {
    const s = site(["/a"], true);
    assert.deepEqual(m(s, "/b/c"), { kind: "fallback", params: {}, rest: "/b/c" });
    assert.deepEqual(m(s, "/a"), { kind: "/a", params: {}, rest: "" });
  });

  it("returns one preallocated answer for a parameterless exact route", () => {
    const s = site(["/a"]);
    assert.equal(s.match("/a"), s.match("/a"));
  });

  it("refuses malformed and duplicate patterns", () => {
    assert.throws(() => parsePattern("a"), /start with/);
    assert.throws(() => parsePattern("/a/*/b"), /last segment/);
    assert.throws(() => parsePattern("/a*"), /whole last/);
    assert.throws(() => parsePattern("/:1x"), /bad parameter/);
    assert.throws(() => parsePattern("/:a/:a"), /duplicate parameter/);
    assert.throws(() => parsePattern("/a//b"), /empty segment/);
    assert.throws(() => parsePattern("/a/../b"), /dot segment/);
    const s = site(["/a/:x", "/b/*"]);
    assert.throws(() => s.add("/a/:y", "dup"), /same shape/);
    assert.throws(() => s.add("/b/*", "dup"), /same shape/);
  });

  it("routes through hosts to sites", () => {
    const r = new Router<string>([
      { hosts: ["a.test"], routes: [{ path: "/ws/:room", kind: "ws" }] },
      { hosts: ["b.test"], routes: [{ path: "/ws/:room", kind: "other" }] },
    ]);
    const got = r.match("A.test:80", "/ws/x");
    assert.equal(got?.route.kind, "ws");
    assert.equal(got?.route.site.name, "a.test");
    assert.deepEqual({ ...got?.params }, { room: "x" });
    assert.equal(r.match("b.test", "/ws/x")?.route.kind, "other");
    assert.equal(r.match("b.test", "/nope"), null);
  });
});

// ---------------------------------------------------------------------------
// Property: the tree answers exactly like a brute-force matcher that ranks
// every matching pattern by its segment kinds (literal < parameter < end-of-
// pattern < prefix), compared position by position.

type Token = { t: "lit"; s: string } | { t: "param"; name: string } | { t: "wild" };

function tokens(pattern: string): Token[] {
  return pattern
    .slice(1)
    .split("/")
    .map(
      (s): Token =>
        s === "*" ? { t: "wild" } : s.startsWith(":") ? { t: "param", name: s.slice(1) } : { t: "lit", s },
    );
}

interface RefMatch {
  kind: string;
  params: Record<string, string>;
  rest: string;
}

function reference(patterns: string[], fallback: boolean, path: string): RefMatch | null {
  const segs = path.slice(1).split("/");
  let best: { key: number[]; match: RefMatch } | null = null;
  for (const p of patterns) {
    const toks = tokens(p);
    const key: number[] = [];
    const params: Record<string, string> = {};
    let rest = "";
    let matched = true;
    let wild = false;
    for (let i = 0; i < toks.length; i++) {
      const tok = toks[i]!;
      if (tok.t === "wild") {
        wild = true;
        rest = i < segs.length ? "/" + segs.slice(i).join("/") : "";
        key.push(3);
        break;
      }
      const seg = segs[i];
      if (seg === undefined) {
        matched = false;
        break;
      }
      if (tok.t === "lit") {
        if (tok.s !== seg) {
          matched = false;
          break;
        }
        key.push(0);
      } else {
        if (seg === "") {
          matched = false;
          break;
        }
        params[tok.name] = seg;
        key.push(1);
      }
    }
    if (!matched) continue;
    if (!wild) {
      if (toks.length !== segs.length) continue;
      key.push(2);
    }
    const better =
      best === null ||
      (() => {
        for (let i = 0; i < Math.min(key.length, best.key.length); i++) {
          if (key[i] !== best.key[i]) return key[i]! < best.key[i]!;
        }
        throw new Error(`two patterns of the same rank: ${p}`);
      })();
    if (better) best = { key, match: { kind: p, params, rest } };
  }
  if (best !== null) return best.match;
  return fallback ? { kind: "fallback", params: {}, rest: path } : null;
}

const shape = (p: string) => p.replace(/:[A-Za-z0-9_]+/g, ":");

describe("property: tree = brute force", () => {
  const segment = fc.constantFrom("a", "b", "ab", "a.b", "c");
  const patternArb = fc
    .tuple(
      fc.array(fc.oneof({ weight: 3, arbitrary: segment }, { weight: 2, arbitrary: fc.constant(":") }), {
        maxLength: 4,
      }),
      fc.constantFrom("", "", "/*", "/"),
    )
    .map(([segs, tail]) => {
      let n = 0;
      const body = segs.map((s) => (s === ":" ? `:p${n++}` : s)).join("/");
      const p = "/" + body + tail;
      return p === "//" ? "/" : p.startsWith("//") ? p.slice(1) : p;
    });
  const pathArb = fc
    .array(fc.constantFrom("a", "b", "ab", "a.b", "c", "", "abc", "é"), { minLength: 1, maxLength: 6 })
    .map((segs) => "/" + segs.join("/"));

  it("agrees on random tables and paths", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(patternArb, { selector: shape, maxLength: 14 }),
        fc.boolean(),
        fc.array(pathArb, { minLength: 1, maxLength: 20 }),
        (patterns, fallback, paths) => {
          const s = site(patterns, fallback);
          for (const path of paths) {
            assert.deepEqual(m(s, path), reference(patterns, fallback, path), `${path} in ${patterns.join(" ")}`);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
