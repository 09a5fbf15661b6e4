import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RequestHead, RequestParser, writeResponseHead } from "@wirehouse/handshake";
import fc from "fast-check";
import { createServer } from "../src/index.ts";
import { bodyAllowed, buildResponse, builtBody, type HeaderInput } from "../src/response-head.ts";
import { rawExchange } from "./helpers.ts";

const enc = new TextEncoder();
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
const noDate = (s: string) => s.replace(/\r\nDate: [^\r]*/, "\r\nDate: -");

function head(text: string): RequestHead {
  const r = new RequestParser().push(enc.encode(text));
  if (r.kind !== "head") throw new Error(`not a head: ${r.kind}`);
  return r.head;
}
const GET11 = head("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
const HEAD11 = head("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
const GET10 = head("GET /x HTTP/1.0\r\n\r\n");
const GET10KA = head("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
const CLOSE11 = head("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

/** What writeResponseHead builds from scratch for the same answer. */
function fresh(
  status: number,
  defaults: [string, string][],
  headers: HeaderInput,
  body: Uint8Array | string | null,
  req: RequestHead,
  close: boolean,
): string {
  const own = headers === undefined ? [] : Array.isArray(headers) ? headers : Object.entries(headers);
  const bytes = typeof body === "string" ? enc.encode(body) : (body ?? new Uint8Array(0));
  return latin1(
    writeResponseHead({
      status,
      headers: [...defaults, ...own],
      // A HEAD answered without a body gives no length (it would claim the GET's content is empty).
      bodyLength: body === null && req.method === "HEAD" ? undefined : bytes.length,
      request: req,
      close,
    }).bytes,
  );
}

describe("response heads built once (response-head.ts)", () => {
  it("reuses the head for a repeated answer, even from a fresh object with equal strings", () => {
    const a = buildResponse(200, [], [["content-type", "text/plain"]], "hello", GET11, false);
    assert.equal(latin1(builtBody), "hello");
    const b = buildResponse(200, [], [["content-type", "text/plain"]], "hello", GET11, false);
    assert.equal(b, a, "the same head object: built once");
    assert.equal(latin1(builtBody), "hello");
    assert.match(
      latin1(a.bytes),
      /^HTTP\/1\.1 200 OK\r\nDate: .* GMT\r\ncontent-type: text\/plain\r\nContent-Length: 5\r\n\r\n$/,
    );
  });

  it("never answers a changed response with a stale head: header value, body, status, defaults", () => {
    const headers: [string, string][] = [["x-a", "1"]];
    const body = new Uint8Array(10);
    const first = latin1(buildResponse(200, [], headers, body, GET11, false).bytes);
    assert.match(first, /x-a: 1\r\n/);
    headers[0]![1] = "2"; // the same array, changed in place
    assert.match(latin1(buildResponse(200, [], headers, body, GET11, false).bytes), /x-a: 2\r\n/);
    headers.push(["x-b", "3"]);
    assert.match(latin1(buildResponse(200, [], headers, body, GET11, false).bytes), /x-a: 2\r\nx-b: 3\r\n/);
    assert.match(latin1(buildResponse(200, [], headers, new Uint8Array(11), GET11, false).bytes), /Length: 11\r\n/);
    assert.match(latin1(buildResponse(404, [], headers, body, GET11, false).bytes), /^HTTP\/1\.1 404 /);
    const defaults: [string, string][] = [["server", "wirehouse"]];
    assert.match(
      latin1(buildResponse(200, defaults, headers, body, GET11, false).bytes),
      /\r\nserver: wirehouse\r\nx-a/,
    );
    buildResponse(200, [], undefined, "abc", GET11, false);
    assert.equal(latin1(builtBody), "abc");
    buildResponse(200, [], undefined, "xyz", GET11, false);
    assert.equal(latin1(builtBody), "xyz", "a different string of the same length");
  });

  it("builds the variants it does not cache like writeResponseHead: HTTP/1.0, close, Connection: close", () => {
    for (const [req, close] of [
      [GET10, false],
      [GET10KA, false],
      [CLOSE11, false],
      [GET11, true],
    ] as const) {
      const got = latin1(buildResponse(200, [], [["a", "b"]], "body", req, close).bytes);
      assert.equal(noDate(got), noDate(fresh(200, [], [["a", "b"]], "body", req, close)));
    }
    const h = buildResponse(200, [], [["Connection", "close"]], "x", GET11, false);
    assert.equal(h.keepAlive, false);
    assert.equal(buildResponse(200, [], [["Connection", "close"]], "x", GET11, false).keepAlive, false);
  });

  it("keeps the handler's own Date and tells HEAD, 204 and 304 apart per request", () => {
    const d = "Sun, 06 Nov 1994 08:49:37 GMT";
    const h = latin1(buildResponse(200, [], { Date: d }, "x", GET11, false).bytes);
    assert.equal(count(h, "Date:"), 1);
    assert.match(h, /\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n/);
    assert.equal(bodyAllowed(200, GET11), true);
    assert.equal(bodyAllowed(200, HEAD11), false);
    assert.equal(bodyAllowed(204, GET11), false);
    assert.equal(bodyAllowed(304, GET11), false);
    assert.equal(bodyAllowed(101, GET11), false);
  });

  it("a HEAD answered without a body has no Content-Length, and a GET without one after it still has 0", () => {
    const headOnly = latin1(buildResponse(200, [], [["x-k", "v"]], null, HEAD11, false).bytes);
    assert.doesNotMatch(headOnly, /content-length/i);
    assert.doesNotMatch(headOnly, /transfer-encoding/i);
    const get = latin1(buildResponse(200, [], [["x-k", "v"]], null, GET11, false).bytes);
    assert.match(get, /\r\nContent-Length: 0\r\n/);
    assert.doesNotMatch(latin1(buildResponse(200, [], [["x-k", "v"]], null, HEAD11, false).bytes), /content-length/i);
    // With a body, HEAD gets the length the GET would have.
    assert.match(latin1(buildResponse(200, [], [["x-k", "v"]], "hello", HEAD11, false).bytes), /Content-Length: 5\r\n/);
  });

  it("property: any sequence of answers gets the bytes a fresh build gives", () => {
    const name = fc.constantFrom("content-type", "x-a", "Cache-Control", "etag", "Date", "connection");
    const value = fc.constantFrom("1", "2", "text/plain", "close", "keep-alive", "");
    const answer = fc.record({
      status: fc.constantFrom(200, 201, 204, 304, 404, 500),
      headers: fc.oneof(
        fc.constant(undefined),
        fc.array(fc.tuple(name, value), { maxLength: 3 }),
        fc.dictionary(name, value, { maxKeys: 3 }),
      ),
      body: fc.oneof(fc.constant(null), fc.constantFrom("", "a", "b", "ab", "é"), fc.integer({ min: 0, max: 3 })),
      req: fc.constantFrom(GET11, HEAD11, GET10, CLOSE11),
      close: fc.boolean(),
      defaults: fc.constantFrom<[string, string][]>([], [["server", "w"]]),
    });
    fc.assert(
      fc.property(fc.array(answer, { minLength: 1, maxLength: 20 }), (answers) => {
        for (const a of answers) {
          const body = typeof a.body === "number" ? new Uint8Array(a.body) : a.body;
          const got = buildResponse(a.status, a.defaults, a.headers, body, a.req, a.close);
          const want = fresh(a.status, a.defaults, a.headers, body, a.req, a.close);
          assert.equal(noDate(latin1(got.bytes)), noDate(want));
          const expected = typeof body === "string" ? enc.encode(body) : (body ?? new Uint8Array(0));
          assert.deepEqual(builtBody, expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("over the wire: a response object changed between requests, and HEAD after GET of the same answer", async () => {
    const server = createServer();
    const res = { status: 200, headers: [["x-n", "0"]] as [string, string][], body: "first" };
    let n = 0;
    server.http("/r", () => {
      n++;
      if (n === 2) {
        res.headers[0]![1] = "1";
        res.body = "other";
      }
      return res;
    });
    const { port } = await server.listen({ port: 0 });
    try {
      const GET = "GET /r HTTP/1.1\r\nHost: a\r\n\r\n";
      const out = await rawExchange(
        port,
        `${GET}${GET}HEAD /r HTTP/1.1\r\nHost: a\r\n\r\nGET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      );
      const parts = out.split(/(?=HTTP\/1\.1 )/);
      assert.equal(parts.length, 4);
      assert.match(parts[0]!, /x-n: 0\r\n[\s\S]*\r\n\r\nfirst$/);
      assert.match(parts[1]!, /x-n: 1\r\n[\s\S]*\r\n\r\nother$/);
      assert.match(parts[2]!, /x-n: 1\r\nContent-Length: 5\r\n\r\n$/, "HEAD: the head alone");
      assert.match(parts[3]!, /Connection: close\r\n\r\nother$/);
    } finally {
      await server.close({ deadline: 500 });
    }
  });
});

function count(s: string, sub: string): number {
  return s.split(sub).length - 1;
}
