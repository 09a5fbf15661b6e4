import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  BodyDecoder,
  concat,
  decodeBody,
  encodeChunk,
  LAST_CHUNK,
  lastChunk,
  validChunkExtensions,
} from "../src/body.ts";
import { HttpError } from "../src/errors.ts";
import { bytes, head, text } from "./helpers.ts";

function decodeAll(dec: BodyDecoder, input: Uint8Array, step = input.length) {
  const out: Uint8Array[] = [];
  let used = 0;
  for (let i = 0; i < input.length; i += step) {
    const r = dec.push(input.subarray(i, Math.min(input.length, i + step)));
    if (r.kind === "error") return r.error;
    out.push(...r.chunks.map((c) => c.slice()));
    used += r.consumed;
    if (r.done) break;
  }
  return { data: concat(out), used, done: dec.done };
}

function rejectsChunked(body: string, code: string, status: number, limits = {}) {
  const r = decodeBody("chunked", -1, bytes(body), limits);
  assert.ok(r instanceof HttpError, "expected an error for " + JSON.stringify(body));
  assert.equal(r.code, code);
  assert.equal(r.status, status);
}

describe("Content-Length bodies", () => {
  it("hands out views up to the length and leaves the rest", () => {
    const h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
    const dec = BodyDecoder.forRequest(h);
    const a = dec.push(bytes("he"));
    assert.ok(a.kind === "body" && !a.done && a.consumed === 2);
    const b = dec.push(bytes("lloGET /next"));
    assert.ok(b.kind === "body" && b.done && b.consumed === 3);
    if (b.kind === "body") assert.equal(text(b.chunks[0]!), "llo");
    assert.equal(dec.size, 5);
  });
  it("declared length over the limit is 413 before any byte", () => {
    const dec = new BodyDecoder("length", 11, { maxBodySize: 10 });
    assert.equal(dec.error?.status, 413);
    const r = dec.push(bytes("x"));
    assert.ok(r.kind === "error" && r.error.code === "body-too-large");
  });
  it("a body cut short by the connection closing is an error", () => {
    const dec = new BodyDecoder("length", 4);
    dec.push(bytes("ab"));
    assert.equal(dec.end()?.code, "truncated-body");
  });
  it("no body is done at once", () => {
    const dec = new BodyDecoder("none", 0);
    assert.equal(dec.done, true);
    const r = dec.push(bytes("GET"));
    assert.ok(r.kind === "body" && r.consumed === 0 && r.done);
  });
});

describe("chunked bodies", () => {
  it("decodes chunks with extensions and trailers, stopping at the end", () => {
    const body = bytes(
      '4;name=value;q="a \\"b\\""\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nExpires: never\r\nX-Sum: 42\r\n\r\nNEXT',
    );
    for (const step of [1, 2, 3, 7, body.length]) {
      const dec = new BodyDecoder("chunked", -1);
      const r = decodeAll(dec, body, step);
      assert.ok(!(r instanceof HttpError), String(r));
      assert.equal(text(r.data), "Wikipedia in\r\n\r\nchunks.");
      assert.equal(r.used, body.length - 4);
      assert.equal(dec.trailers?.first("x-sum"), "42");
      assert.deepEqual(dec.trailers?.rawNames, ["Expires", "X-Sum"]);
    }
  });
  it("accepts upper-case hex and leading zeros", () => {
    const r = decodeBody("chunked", -1, bytes("000A\r\n0123456789\r\n0\r\n\r\n"));
    assert.ok(r instanceof Uint8Array);
    assert.equal(text(r), "0123456789");
  });
  it("rejects a missing chunk size", () => rejectsChunked("\r\n", "bad-chunk", 400));
  it("rejects a non-hex chunk size", () => rejectsChunked("g\r\n", "bad-chunk", 400));
  it("rejects a signed chunk size", () => rejectsChunked("+5\r\nhello\r\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects a bare LF after the size", () => rejectsChunked("5\nhello\r\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects CR without LF after the size", () => rejectsChunked("5\rxhello\r\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects data not followed by CRLF", () => rejectsChunked("5\r\nhelloX\r\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects data followed by a bare LF", () => rejectsChunked("5\r\nhello\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects a malformed extension", () => rejectsChunked("5;=x\r\nhello\r\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects an unterminated quoted extension", () =>
    rejectsChunked('5;a="x\r\nhello\r\n0\r\n\r\n', "bad-chunk", 400));
  it("rejects an over-long size line", () =>
    rejectsChunked("5;" + "a".repeat(5000) + "\r\nhello\r\n0\r\n\r\n", "bad-chunk", 400));
  it("rejects huge chunk sizes (overflow, smuggling guard)", () =>
    rejectsChunked("fffffffffffffffffff\r\n", "chunk-size-overflow", 400, { maxBodySize: Number.POSITIVE_INFINITY }));
  it("rejects a chunk size over the body limit → 413", () => rejectsChunked("ffffffff\r\n", "body-too-large", 413));
  it("rejects a body whose chunks add up past the limit → 413", () =>
    rejectsChunked("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", "body-too-large", 413, { maxBodySize: 8 }));
  it("rejects a malformed trailer", () => rejectsChunked("0\r\nBad Trailer: x\r\n\r\n", "bad-trailer", 400));
  it("rejects a trailer with a bare LF", () => rejectsChunked("0\r\nX: y\n\r\n", "bad-trailer", 400));
  it("rejects trailers over the size limit → 431", () =>
    rejectsChunked("0\r\nX: " + "y".repeat(100) + "\r\n\r\n", "trailer-too-large", 431, { maxTrailerSize: 50 }));
  it("rejects too many trailers → 431", () =>
    rejectsChunked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", "trailer-too-large", 431, { maxTrailers: 2 }));
  it("reports a truncated chunked body", () => {
    const dec = new BodyDecoder("chunked", -1);
    dec.push(bytes("5\r\nhel"));
    assert.equal(dec.end()?.code, "truncated-body");
  });

  it("validates chunk extensions per RFC 9112 §7.1.1", () => {
    assert.equal(validChunkExtensions(""), true);
    assert.equal(validChunkExtensions(" ; a = b ;c"), true);
    assert.equal(validChunkExtensions(';a="q\\"uoted"'), true);
    assert.equal(validChunkExtensions(";a=b c"), false);
    assert.equal(validChunkExtensions("x"), false);
    assert.equal(validChunkExtensions(';a="\x01"'), false);
  });

  it("property: encode → decode is the identity under random chunk and read sizes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 12 }),
        fc.array(
          fc.tuple(
            fc.constantFrom("X-A", "Trailer-B", "c"),
            fc.string({ maxLength: 10 }).filter((s) => /^[ -~]*$/.test(s)),
          ),
          {
            maxLength: 3,
          },
        ),
        fc.integer({ min: 1, max: 64 }),
        (pieces, trailers, step) => {
          const encoded = concat([...pieces.map(encodeChunk), trailers.length ? lastChunk(trailers) : LAST_CHUNK]);
          const dec = new BodyDecoder("chunked", -1);
          const r = decodeAll(dec, concat([encoded, bytes("tail")]), step);
          assert.ok(!(r instanceof HttpError));
          assert.deepEqual(r.data, concat([new Uint8Array(0), ...pieces]));
          assert.equal(r.used, encoded.length);
          if (trailers.length) {
            assert.deepEqual(
              dec.trailers?.values,
              trailers.map(([, v]) => v.trim()),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("lastChunk refuses header injection in trailers", () => {
    assert.throws(() => lastChunk([["X", "a\r\nEvil: 1"]]), TypeError);
    assert.throws(() => lastChunk([["X Y", "a"]]), TypeError);
  });
});
