import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatHttpDate, HttpDate } from "../src/date.ts";
import { buildErrorResponse } from "../src/errors.ts";
import { CONTINUE_RESPONSE, HeaderInjectionError, writeResponseHead } from "../src/response.ts";
import { head, latin1Text, text } from "./helpers.ts";

const fixed = new HttpDate(() => 784111777000); // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7)
const get11 = { method: "GET", minor: 1, keepAlive: true };

describe("response head writer", () => {
  it("formats the RFC 9110 example date", () => {
    assert.equal(formatHttpDate(784111777000), "Sun, 06 Nov 1994 08:49:37 GMT");
  });

  it("formats Date at most once per second with an injected clock", () => {
    let now = 1_700_000_000_000;
    const date = new HttpDate(() => now);
    const a = date.value;
    now += 999;
    assert.equal(date.value, a);
    assert.equal(date.formatted, 1);
    now += 1;
    assert.notEqual(date.value, a);
    assert.equal(date.formatted, 2);
  });

  it("writes a status line, Date, fields and Content-Length", () => {
    const r = writeResponseHead({
      status: 200,
      headers: [
        ["Content-Type", "text/html"],
        ["Set-Cookie", "a=1"],
        ["Set-Cookie", "b=2"],
      ],
      bodyLength: 12,
      request: get11,
      date: fixed,
    });
    assert.equal(
      text(r.bytes),
      "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 12\r\n\r\n",
    );
    assert.deepEqual([r.chunked, r.keepAlive, r.bodyAllowed], [false, true, true]);
  });

  it("chooses chunked for an unknown length on HTTP/1.1 and close-delimited on HTTP/1.0", () => {
    const a = writeResponseHead({ status: 200, request: get11, date: false });
    assert.equal(text(a.bytes), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert.equal(a.chunked, true);
    const b = writeResponseHead({ status: 200, request: { method: "GET", minor: 0, keepAlive: true }, date: false });
    assert.equal(text(b.bytes), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    assert.deepEqual([b.chunked, b.keepAlive], [false, false]);
  });

  it("answers HTTP/1.0 keep-alive with Connection: keep-alive", () => {
    const h = head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = writeResponseHead({ status: 204, request: h, date: false });
    assert.equal(text(r.bytes), "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  });

  it("sends Connection: close when the request asked for it", () => {
    const h = head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const r = writeResponseHead({ status: 200, bodyLength: 0, request: h, date: false });
    assert.equal(text(r.bytes), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert.equal(r.keepAlive, false);
    assert.equal(writeResponseHead({ status: 200, bodyLength: 0, close: true, date: false }).keepAlive, false);
    assert.equal(writeResponseHead({ status: 200, headers: { Connection: "close" }, date: false }).keepAlive, false);
  });

  it("sends no framing for 204, 304 and 1xx; HEAD keeps Content-Length but no body", () => {
    assert.equal(
      text(writeResponseHead({ status: 304, bodyLength: 5, date: false }).bytes),
      "HTTP/1.1 304 Not Modified\r\n\r\n",
    );
    const h = writeResponseHead({
      status: 200,
      bodyLength: 5,
      request: { method: "HEAD", minor: 1, keepAlive: true },
      date: false,
    });
    assert.equal(text(h.bytes), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    assert.equal(h.bodyAllowed, false);
    assert.equal(text(CONTINUE_RESPONSE), "HTTP/1.1 100 Continue\r\n\r\n");
  });

  it("uses framing fields given by the caller instead of its own", () => {
    const a = writeResponseHead({ status: 200, headers: { "Content-Length": 3 }, date: false });
    assert.equal(text(a.bytes), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    const b = writeResponseHead({ status: 200, headers: { "Transfer-Encoding": "chunked" }, date: false });
    assert.equal(b.chunked, true);
    assert.throws(() => writeResponseHead({ status: 200, headers: { "Content-Length": "-1" } }), HeaderInjectionError);
  });

  it("refuses CR, LF and NUL in names and values (header injection)", () => {
    for (const [n, v] of [
      ["X", "a\r\nSet-Cookie: evil=1"],
      ["X", "a\nb"],
      ["X", "a\rb"],
      ["X", "a\0b"],
      ["X\r\nY", "a"],
      ["X:Y", "a"],
      ["", "a"],
      ["X", "\u0100"],
    ] as const) {
      assert.throws(
        () => writeResponseHead({ status: 200, headers: [[n, v]] }),
        HeaderInjectionError,
        JSON.stringify([n, v]),
      );
    }
    assert.throws(() => writeResponseHead({ status: 200, statusText: "OK\r\nX: y" }), HeaderInjectionError);
    assert.throws(() => buildErrorResponse(403, "no", [["X", "a\r\nb"]]), HeaderInjectionError);
  });

  it("writes latin1 values byte for byte and keeps a record's arrays as repeats", () => {
    const r = writeResponseHead({
      status: 200,
      headers: { "X-Name": "caf\xe9", "Set-Cookie": ["a=1", "b=2"] },
      bodyLength: 0,
      date: false,
    });
    assert.equal(
      latin1Text(r.bytes),
      "HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
    );
  });
});
