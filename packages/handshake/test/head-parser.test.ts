import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorResponse } from "../src/errors.ts";
import { NEED_MORE, parseResponse, RequestParser } from "../src/head-parser.ts";
import { bytes, head, latin1Bytes, rejects, text } from "./helpers.ts";

describe("request head parser", () => {
  it("parses the request line, path, query and headers", () => {
    const h = head(
      "GET /chat/room%201?a=1&b=x%20y&a=2+3 HTTP/1.1\r\nHost: example.com:8080\r\nX-Thing:   padded value \t\r\nx-thing: second\r\nAccept: */*\r\n\r\n",
    );
    assert.equal(h.method, "GET");
    assert.equal(h.target, "/chat/room%201?a=1&b=x%20y&a=2+3");
    assert.equal(h.targetForm, "origin");
    assert.equal(h.path, "/chat/room%201");
    assert.equal(h.rawQuery, "a=1&b=x%20y&a=2+3");
    assert.deepEqual(h.query.getAll("a"), ["1", "2 3"]);
    assert.equal(h.query.get("b"), "x y");
    assert.equal(h.version, "HTTP/1.1");
    assert.equal(h.minor, 1);
    assert.equal(h.host, "example.com:8080");
    assert.equal(h.headers.first("x-THING"), "padded value");
    assert.equal(h.headers.get("X-Thing"), "padded value, second");
    assert.deepEqual(h.headers.getAll("x-thing"), ["padded value", "second"]);
    assert.equal(h.headers.count("x-thing"), 2);
    assert.deepEqual(h.headers.rawNames, ["Host", "X-Thing", "x-thing", "Accept"]);
    assert.deepEqual(
      [...h.headers],
      [
        ["Host", "example.com:8080"],
        ["X-Thing", "padded value"],
        ["x-thing", "second"],
        ["Accept", "*/*"],
      ],
    );
    assert.equal(h.keepAlive, true);
    assert.equal(h.bodyKind, "none");
    assert.equal(h.hasBody, false);
  });

  it("reports the bytes consumed so pipelined requests continue from the rest", () => {
    const parser = new RequestParser();
    const all = bytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HT");
    let chunk = all;
    const paths: string[] = [];
    for (;;) {
      const r = parser.push(chunk);
      if (r.kind !== "head") {
        assert.equal(r, NEED_MORE);
        break;
      }
      paths.push(r.head.path);
      chunk = chunk.subarray(r.consumed);
    }
    assert.deepEqual(paths, ["/1", "/2"]);
    assert.equal(parser.buffered, 9);
    const r = parser.push(bytes("TP/1.1\r\nHost: a\r\n\r\nrest"));
    assert.equal(r.kind, "head");
    if (r.kind === "head") {
      assert.equal(r.head.path, "/3");
      assert.equal(r.consumed, 19);
    }
    assert.equal(parser.buffered, 0);
  });

  it("parses a head fed one byte at a time; consumed counts only the last chunk", () => {
    const s = bytes("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    const parser = new RequestParser();
    for (let i = 0; i < s.length; i++) {
      const r = parser.push(s.subarray(i, i + 1));
      if (r.kind === "head") {
        assert.equal(i, s.length - 4);
        assert.equal(r.consumed, 1);
        assert.equal(r.head.contentLength, 3);
        return;
      }
      assert.equal(r.kind, "need-more");
    }
    assert.fail("no head");
  });

  it("ignores empty lines before the request line (RFC 9112 §2.2)", () => {
    assert.equal(head("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").path, "/");
  });

  it("accepts absolute-form, asterisk-form and authority-form", () => {
    const abs = head("GET http://example.org:81/p/q?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n");
    assert.equal(abs.targetForm, "absolute");
    assert.equal(abs.path, "/p/q");
    assert.equal(abs.rawQuery, "x=1");
    assert.equal(abs.host, "example.org:81"); // RFC 9112 §3.2.2: the target's authority wins
    const bare = head("GET https://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert.equal(bare.path, "/");
    const star = head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(star.targetForm, "asterisk");
    assert.equal(star.path, "*");
    const conn = head("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
    assert.equal(conn.targetForm, "authority");
    assert.equal(conn.host, "example.org:443");
  });

  it("decides keep-alive for HTTP/1.0 and 1.1", () => {
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keepAlive, true);
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keepAlive, false);
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n").keepAlive, false);
    assert.equal(head("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
    assert.equal(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive, true);
    // Connection: Upgrade alone (the handshake's usual field) and with other tokens.
    const up = (v: string, c: string) =>
      head(`GET / HTTP/1.${v}\r\nHost: a\r\nUpgrade: websocket\r\nConnection: ${c}\r\n\r\n`);
    for (const [v, c, keepAlive, upgrade] of [
      ["1", "Upgrade", true, true],
      ["1", "UPGRADE", true, true],
      ["0", "Upgrade", false, true],
      ["1", "upgrade, close", false, true],
      ["0", "keep-alive, Upgrade", true, true],
      ["1", "upgradx", true, false],
      ["1", "close", false, false],
    ] as const) {
      assert.equal(up(v, c).keepAlive, keepAlive, `${v} ${c}`);
      assert.equal(up(v, c).upgrade, upgrade, `${v} ${c}`);
    }
    assert.equal(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").version, "HTTP/1.0");
  });

  it("parses cookies from every Cookie field, first occurrence wins", () => {
    const h = head('GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; b="two"; junk; c=x=y\r\ncookie: a=9; d=4\r\n\r\n');
    assert.deepEqual(
      [...h.cookies],
      [
        ["a", "1"],
        ["b", "two"],
        ["c", "x=y"],
        ["d", "4"],
      ],
    );
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").cookies.size, 0);
  });

  it("flags upgrade requests and Expect: 100-continue", () => {
    const h = head("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert.equal(h.upgrade, true);
    assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n").upgrade, false);
    assert.equal(
      head("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n").expectContinue,
      true,
    );
  });

  it("keeps obs-text bytes in values as latin1 characters", () => {
    const r = new RequestParser().push(latin1Bytes("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n"));
    assert.equal(r.kind, "head");
    if (r.kind === "head") assert.equal(r.head.headers.first("x-name"), "caf\xe9");
  });

  it("reads Content-Length and chunked framing", () => {
    const cl = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0012\r\n\r\n");
    assert.equal(cl.bodyKind, "length");
    assert.equal(cl.contentLength, 12);
    assert.equal(
      head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7, 7\r\n\r\n").contentLength,
      7,
    );
    assert.equal(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").bodyKind, "none");
    const ch = head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
    assert.equal(ch.bodyKind, "chunked");
    assert.equal(ch.contentLength, -1);
    assert.equal(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n").bodyKind, "chunked");
  });

  it("keeps answering the error after a failure until reset", () => {
    const parser = new RequestParser();
    rejects("GET / HTTP/1.1\nHost: a\r\n\r\n", "bare-lf", 400, parser);
    rejects("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "bare-lf", 400, parser);
    parser.reset();
    assert.equal(parser.push(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).kind, "head");
  });
});

describe("rejections (one per rule)", () => {
  const H = "Host: a\r\n";
  const cases: [string, string, string, number][] = [
    ["missing method", " / HTTP/1.1\r\n" + H + "\r\n", "bad-request-line", 400],
    ["method not a token", "GE(T / HTTP/1.1\r\n" + H + "\r\n", "bad-method", 400],
    ["two spaces after method", "GET  / HTTP/1.1\r\n" + H + "\r\n", "bad-request-line", 400],
    ["no version", "GET /\r\n" + H + "\r\n", "bad-target", 400],
    ["space inside target", "GET /a b HTTP/1.1\r\n" + H + "\r\n", "bad-version", 400],
    ["control char in target", "GET /a\x01b HTTP/1.1\r\n" + H + "\r\n", "bad-target", 400],
    ["fragment in target", "GET /a#b HTTP/1.1\r\n" + H + "\r\n", "bad-target", 400],
    ["relative target", "GET a/b HTTP/1.1\r\n" + H + "\r\n", "bad-target", 400],
    ["asterisk-form with GET", "GET * HTTP/1.1\r\n" + H + "\r\n", "bad-target", 400],
    ["absolute-form with userinfo", "GET http://u@h/ HTTP/1.1\r\n" + H + "\r\n", "bad-target", 400],
    ["absolute-form without authority", "GET http:///x HTTP/1.1\r\n" + H + "\r\n", "bad-target", 400],
    ["lower-case version", "GET / http/1.1\r\n" + H + "\r\n", "bad-version", 400],
    ["malformed version", "GET / HTTP/1.1x\r\n" + H + "\r\n", "bad-version", 400],
    ["HTTP/2.0", "GET / HTTP/2.0\r\n" + H + "\r\n", "version-not-supported", 505],
    ["HTTP/1.2", "GET / HTTP/1.2\r\n" + H + "\r\n", "version-not-supported", 505],
    ["HTTP/0.9", "GET / HTTP/0.9\r\n" + H + "\r\n", "version-not-supported", 505],
    ["bare LF ending the request line", "GET / HTTP/1.1\n" + H + "\r\n", "bare-lf", 400],
    ["bare LF ending a header", "GET / HTTP/1.1\r\nHost: a\n\r\n", "bare-lf", 400],
    ["bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", "bare-lf", 400],
    ["bare CR in a value", "GET / HTTP/1.1\r\n" + H + "X: a\rb\r\n\r\n", "bare-cr", 400],
    ["NUL in a value", "GET / HTTP/1.1\r\n" + H + "X: a\0b\r\n\r\n", "bad-header-value", 400],
    ["DEL in a value", "GET / HTTP/1.1\r\n" + H + "X: a\x7fb\r\n\r\n", "bad-header-value", 400],
    ["space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "bad-header-name", 400],
    ["empty header name", "GET / HTTP/1.1\r\n" + H + ": a\r\n\r\n", "bad-header-name", 400],
    ["header without colon", "GET / HTTP/1.1\r\n" + H + "X a\r\n\r\n", "bad-header-name", 400],
    ["non-token header name", "GET / HTTP/1.1\r\n" + H + "X(y): a\r\n\r\n", "bad-header-name", 400],
    ["obs-fold with space", "GET / HTTP/1.1\r\n" + H + "X: a\r\n b\r\n\r\n", "obs-fold", 400],
    ["obs-fold with tab", "GET / HTTP/1.1\r\n" + H + "X: a\r\n\tb\r\n\r\n", "obs-fold", 400],
    ["missing Host on HTTP/1.1", "GET / HTTP/1.1\r\nX: a\r\n\r\n", "missing-host", 400],
    ["two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "duplicate-host", 400],
    ["invalid Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", "bad-host", 400],
    ["non-ASCII Host", "GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n", "bad-host", 400],
    [
      "CL and TE (smuggling)",
      "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "content-length-with-transfer-encoding",
      400,
    ],
    [
      "TE and CL (smuggling, other order)",
      "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
      "content-length-with-transfer-encoding",
      400,
    ],
    [
      "differing duplicate CL",
      "POST / HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "conflicting-content-length",
      400,
    ],
    [
      "differing CL list",
      "POST / HTTP/1.1\r\n" + H + "Content-Length: 5, 6\r\n\r\n",
      "conflicting-content-length",
      400,
    ],
    ["Content-Length: +1", "POST / HTTP/1.1\r\n" + H + "Content-Length: +1\r\n\r\n", "bad-content-length", 400],
    ["Content-Length: -1", "POST / HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\n", "bad-content-length", 400],
    ["Content-Length: 0x10", "POST / HTTP/1.1\r\n" + H + "Content-Length: 0x10\r\n\r\n", "bad-content-length", 400],
    ["Content-Length: 1 2", "POST / HTTP/1.1\r\n" + H + "Content-Length: 1 2\r\n\r\n", "bad-content-length", 400],
    ["empty Content-Length", "POST / HTTP/1.1\r\n" + H + "Content-Length:\r\n\r\n", "bad-content-length", 400],
    [
      "Content-Length overflow",
      "POST / HTTP/1.1\r\n" + H + "Content-Length: 99999999999999999999\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "unknown transfer coding",
      "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: foo\r\n\r\n",
      "unsupported-transfer-encoding",
      501,
    ],
    [
      "gzip, chunked",
      "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n",
      "unsupported-transfer-encoding",
      501,
    ],
    [
      "chunked not final",
      "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n",
      "bad-transfer-encoding",
      400,
    ],
    [
      "chunked twice",
      "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "bad-transfer-encoding",
      400,
    ],
    [
      "empty Transfer-Encoding",
      "POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: ,\r\n\r\n",
      "bad-transfer-encoding",
      400,
    ],
    [
      "TE with a bad token",
      "POST / HTTP/1.1\r\n" + H + 'Transfer-Encoding: chunked;x="\r\n\r\n',
      "bad-transfer-encoding",
      400,
    ],
    ["TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "transfer-encoding-http10", 400],
  ];
  for (const [name, input, code, status] of cases) {
    it(`${name} → ${status}`, () => {
      const e = rejects(input, code, status);
      // Split feeding reaches the same verdict, and the answer carries the status.
      const parser = new RequestParser();
      const raw = bytes(input);
      const first = parser.push(raw.subarray(0, raw.length >> 1));
      const second = first.kind === "need-more" ? parser.push(raw.subarray(raw.length >> 1)) : first;
      assert.ok(second.kind === "error" && second.error.code === code);
      assert.ok(text(errorResponse(e)).startsWith(`HTTP/1.1 ${status} `));
    });
  }

  it("request line longer than 8 KiB → 414, even before its end arrives", () => {
    rejects("GET /" + "a".repeat(8200) + " HTTP/1.1\r\nHost: a\r\n\r\n", "request-line-too-long", 414);
    rejects("GET /" + "a".repeat(8200), "request-line-too-long", 414);
    assert.equal(head("GET /" + "a".repeat(8192 - 14) + " HTTP/1.1\r\nHost: a\r\n\r\n").path.length, 8192 - 13);
  });

  it("head larger than 16 KiB → 431, even before its end arrives", () => {
    const big = "X-Big: " + "v".repeat(8000) + "\r\n";
    rejects("GET / HTTP/1.1\r\nHost: a\r\n" + big + big + big + "\r\n", "head-too-large", 431);
    const parser = new RequestParser();
    assert.equal(parser.push(bytes("GET / HTTP/1.1\r\nHost: a\r\n" + big)).kind, "need-more");
    assert.equal(parser.push(bytes(big)).kind, "need-more");
    rejects(big, "head-too-large", 431, parser);
  });

  it("more than 100 header fields → 431", () => {
    let s = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (let i = 0; i < 99; i++) s += "X-" + i + ": v\r\n";
    assert.equal(head(s + "\r\n").headers.size, 100);
    rejects(s + "X-100: v\r\n\r\n", "too-many-headers", 431);
  });

  it("limits are configurable", () => {
    rejects("GET /abcdef HTTP/1.1\r\n", "request-line-too-long", 414, new RequestParser({ maxRequestLineSize: 10 }));
    rejects("GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n", "too-many-headers", 431, new RequestParser({ maxHeaders: 1 }));
    rejects("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "head-too-large", 431, new RequestParser({ maxHeadSize: 20 }));
    const exact = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert.equal(new RequestParser({ maxHeadSize: exact.length }).push(bytes(exact)).kind, "head");
  });

  it("error responses are prebuilt bytes with Connection: close and the reason", () => {
    const e = rejects("GET / HTTP/1.1\r\n\r\n", "missing-host", 400);
    const r = errorResponse(e);
    assert.equal(
      text(r),
      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 18\r\n\r\nmissing Host field",
    );
    assert.equal(errorResponse(rejects("GET / HTTP/1.1\r\n\r\n", "missing-host", 400)), r);
  });
});

describe("response head parser", () => {
  it("parses a 101 answer", () => {
    const r = parseResponse(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"));
    assert.equal(r.kind, "head");
    if (r.kind === "head") {
      assert.equal(r.head.status, 101);
      assert.equal(r.head.statusText, "Switching Protocols");
      assert.equal(r.head.headers.first("upgrade"), "websocket");
    }
    const bare = parseResponse(bytes("HTTP/1.1 204\r\n\r\n"));
    assert.ok(bare.kind === "head" && bare.head.status === 204 && bare.head.statusText === "");
  });
  it("rejects a malformed status line", () => {
    for (const s of [
      "HTTP/1.1 1x1 OK\r\n\r\n",
      "HTTP/1.1 101OK\r\n\r\n",
      "HTTP/3.0 200 OK\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
    ]) {
      const r = parseResponse(bytes(s));
      assert.equal(r.kind, "error", s);
    }
  });
});

describe("header names", () => {
  it("keeps the peer's spelling of known and unknown names, looks them up in any case", () => {
    const h = head(
      "GET / HTTP/1.1\r\nHOST: a\r\nuser-agent: u\r\nUser-Agent: v\r\nuSeR-aGeNt: w\r\nX-Custom-Thing: x\r\nx-lower: y\r\n\r\n",
    );
    assert.deepEqual(h.headers.rawNames, [
      "HOST",
      "user-agent",
      "User-Agent",
      "uSeR-aGeNt",
      "X-Custom-Thing",
      "x-lower",
    ]);
    assert.deepEqual(h.headers.names, ["host", "user-agent", "user-agent", "user-agent", "x-custom-thing", "x-lower"]);
    assert.equal(h.host, "a");
    assert.deepEqual(h.headers.getAll("USER-AGENT"), ["u", "v", "w"]);
    assert.equal(h.headers.first("x-CUSTOM-thing"), "x");
    assert.deepEqual(h.headers.toObject()["user-agent"], "u, v, w");
  });
  it("parses the same through the one-chunk fast path and the split exact path", () => {
    const raw =
      "GET /p?q HTTP/1.1\r\nHost: h\r\nCONNECTION: Keep-Alive, Upgrade\r\nUpgrade: websocket\r\nX-Bin: \xe9\xff\x80\r\n\r\n";
    const whole = new RequestParser().push(latin1Bytes(raw));
    const p = new RequestParser();
    p.push(latin1Bytes(raw.slice(0, 20)));
    const split = p.push(latin1Bytes(raw.slice(20)));
    assert.ok(whole.kind === "head" && split.kind === "head");
    assert.deepEqual(split.head.headers, whole.head.headers);
    assert.equal(whole.head.headers.first("x-bin"), "\xe9\xff\x80");
    assert.equal(whole.head.upgrade, true);
  });
});
