import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { listHasToken, splitList } from "../src/chars.ts";
import { HttpError } from "../src/errors.ts";
import { type HeadResult, RequestParser } from "../src/head-parser.ts";
import type { RequestHead } from "../src/request-head.ts";
import { writeRequestHead } from "../src/request-writer.ts";
import { browsers, get12 } from "./fixtures/browsers.ts";
import { bytes, latin1Bytes } from "./helpers.ts";

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PCHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@";
const RESERVED = new Set(["host", "content-length", "transfer-encoding"]);

const chars = (set: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...set), { minLength: min, maxLength: max }).map((a) => a.join(""));

const token = chars(TCHARS, 1, 16);
const headerName = token.filter((n) => !RESERVED.has(n.toLowerCase()));
/** Field values: visible ASCII and obs-text, inner spaces and tabs, nothing to trim at the ends. */
const fieldValue = fc
  .array(
    fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x20, 0x09)),
    { maxLength: 40 },
  )
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ""));
const ows = chars(" \t", 0, 3);

const model = fc.record({
  method: fc.oneof(fc.constantFrom("GET", "POST", "PUT", "DELETE", "OPTIONS"), token),
  path: fc.array(chars(PCHARS, 0, 8), { maxLength: 4 }).map((s) => "/" + s.join("/")),
  query: fc.option(chars(PCHARS + "/?", 0, 20), { nil: undefined }),
  minor: fc.constantFrom(0, 1),
  hostIndex: fc.nat(),
  headers: fc.array(fc.tuple(headerName, fieldValue, ows, ows), { maxLength: 20 }),
});
type Model = typeof model extends fc.Arbitrary<infer T> ? T : never;

function fieldsOf(m: Model): [string, string, string, string][] {
  const fields = [...m.headers];
  fields.splice(m.hostIndex % (fields.length + 1), 0, ["Host", "example.com:8080", "", ""]);
  return fields;
}
const targetOf = (m: Model) => m.path + (m.query === undefined ? "" : "?" + m.query);

/** Serializes with the model's whitespace around values (what a sloppy but valid client sends). */
function serialize(m: Model): Uint8Array {
  let s = m.method + " " + targetOf(m) + " HTTP/1." + m.minor + "\r\n";
  for (const [n, v, a, b] of fieldsOf(m)) s += n + ":" + a + v + b + "\r\n";
  return latin1Bytes(s + "\r\n");
}

function mustHead(r: HeadResult<RequestHead>): RequestHead {
  if (r.kind !== "head")
    assert.fail("expected a head, got " + (r.kind === "error" ? r.error.code + " " + r.error.message : r.kind));
  return r.head;
}

function summary(h: RequestHead) {
  return {
    method: h.method,
    target: h.target,
    path: h.path,
    rawQuery: h.rawQuery,
    version: h.version,
    raw: h.headers.rawNames,
    names: h.headers.names,
    values: h.headers.values,
    host: h.host,
    keepAlive: h.keepAlive,
    bodyKind: h.bodyKind,
  };
}

describe("properties", () => {
  it("listHasToken agrees with splitting the list and comparing case-insensitively", () => {
    const tokens = ["upgrade", "websocket", "close", "keep-alive", "a"];
    const value = chars("upGRADEwebsocketclosekp-a ,\t", 0, 14);
    fc.assert(
      fc.property(value, fc.constantFrom(...tokens), (v, t) => {
        const expected = splitList(v).some((e) => e.toLowerCase() === t);
        assert.equal(listHasToken(v, t), expected, JSON.stringify([v, t]));
      }),
      { numRuns: 3000 },
    );
    for (const t of tokens) {
      assert.equal(listHasToken(t.toUpperCase(), t), true);
      assert.equal(listHasToken(" " + t.slice(1), t), false);
    }
  });
  it("a valid request parses the same whole and split at every byte", () => {
    fc.assert(
      fc.property(model, (m) => {
        const input = serialize(m);
        const whole = new RequestParser().push(input);
        const expected = summary(mustHead(whole));
        assert.equal(whole.kind === "head" && whole.consumed, input.length);
        for (let i = 1; i < input.length; i++) {
          const p = new RequestParser();
          assert.equal(p.push(input.subarray(0, i)).kind, "need-more");
          const r = p.push(input.subarray(i));
          assert.deepEqual(summary(mustHead(r)), expected);
          assert.equal(r.kind === "head" && r.consumed, input.length - i);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("random multi-way splits give the same head and the same consumed total", () => {
    fc.assert(
      fc.property(model, fc.array(fc.nat(), { maxLength: 12 }), (m, cuts) => {
        const input = serialize(m);
        const expected = summary(mustHead(new RequestParser().push(input)));
        const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const p = new RequestParser();
        let start = 0;
        let got: RequestHead | undefined;
        for (const end of [...points, input.length]) {
          const r = p.push(input.subarray(start, end));
          if (r.kind === "head") {
            got = r.head;
            assert.equal(start + r.consumed, input.length);
            break;
          }
          assert.equal(r.kind, "need-more");
          start = end;
        }
        assert.ok(got);
        assert.deepEqual(summary(got), expected);
      }),
      { numRuns: 300 },
    );
  });

  it("serialize → parse is the identity for request heads", () => {
    fc.assert(
      fc.property(model, (m) => {
        const fields = fieldsOf(m).map(([n, v]) => [n, v] as [string, string]);
        const bytesOut = writeRequestHead({
          method: m.method,
          target: targetOf(m),
          version: m.minor ? "HTTP/1.1" : "HTTP/1.0",
          headers: fields,
        });
        const h = mustHead(new RequestParser().push(bytesOut));
        assert.equal(h.method, m.method);
        assert.equal(h.target, targetOf(m));
        assert.equal(h.path, m.path);
        assert.equal(h.rawQuery, m.query ?? "");
        assert.equal(h.minor, m.minor);
        assert.deepEqual([...h.headers], fields);
        // And back again: writing the parsed head gives the same bytes.
        const again = writeRequestHead({
          method: h.method,
          target: h.target,
          version: h.version,
          headers: [...h.headers],
        });
        assert.deepEqual(again, bytesOut);
      }),
      { numRuns: 300 },
    );
  });

  it("pipelined requests split anywhere come out in order", () => {
    fc.assert(
      fc.property(fc.array(model, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 97 }), (models, step) => {
        const all = models.map(serialize);
        const stream = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
        let o = 0;
        for (const b of all) {
          stream.set(b, o);
          o += b.length;
        }
        const p = new RequestParser();
        const got: string[] = [];
        for (let i = 0; i < stream.length; i += step) {
          let chunk = stream.subarray(i, i + step);
          while (chunk.length > 0) {
            const r = p.push(chunk);
            if (r.kind !== "head") {
              assert.equal(r.kind, "need-more");
              break;
            }
            got.push(r.head.target);
            chunk = chunk.subarray(r.consumed);
          }
        }
        assert.deepEqual(got, models.map(targetOf));
      }),
      { numRuns: 200 },
    );
  });

  const seeds = [
    ...browsers.map((b) => b.raw),
    get12,
    "POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
  ].map(bytes);
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "insert", "delete")), {
        minLength: 1,
        maxLength: 8,
      }),
    )
    .map(([seed, edits]) => {
      const a = Array.from(seed);
      for (const [pos, byte, op] of edits) {
        const i = pos % (a.length + 1);
        if (op === "set" && i < a.length) a[i] = byte;
        else if (op === "insert") a.splice(i, 0, byte);
        else a.splice(i, 1);
      }
      return Uint8Array.from(a);
    });

  it("random and mutated bytes give a head, need-more or HttpError — never another exception", () => {
    const limits = { maxHeadSize: 2048, maxRequestLineSize: 512, maxHeaders: 20 };
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 3000 }), mutated),
        fc.integer({ min: 1, max: 600 }),
        (input, step) => {
          const whole = new RequestParser(limits).push(input);
          if (whole.kind === "error") assert.ok(whole.error instanceof HttpError);
          if (whole.kind === "head") assert.ok(whole.consumed <= limits.maxHeadSize);
          // Split feeding agrees with whole feeding and never buffers past the limit.
          const p = new RequestParser(limits);
          let r: HeadResult<RequestHead> = { kind: "need-more" };
          let fed = 0;
          for (let i = 0; i < input.length && r.kind === "need-more"; i += step) {
            const chunk = input.subarray(i, i + step);
            r = p.push(chunk);
            fed = i;
            assert.ok(p.buffered <= limits.maxHeadSize + 1);
          }
          assert.equal(r.kind, whole.kind);
          if (r.kind === "error" && whole.kind === "error") assert.equal(r.error.code, whole.error.code);
          if (r.kind === "head" && whole.kind === "head") {
            assert.deepEqual(summary(r.head), summary(whole.head));
            assert.equal(fed + r.consumed, whole.consumed);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
