import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { errorResponse, HttpError } from "../src/errors.ts";
import type { ExtensionNegotiator } from "../src/extensions.ts";
import { parseResponse, RequestParser } from "../src/head-parser.ts";
import { sha1 as nodeSha1 } from "../src/node/sha1.ts";
import { findDeflate, perMessageDeflate, perMessageDeflateClient } from "../src/permessage-deflate.ts";
import { sha1 as pureSha1 } from "../src/sha1.ts";
import { createClientHandshake, validateServerHandshake, WebSocketHandshakeError } from "../src/websocket-client.ts";
import {
  computeAcceptKey,
  generateWebSocketKey,
  isValidWebSocketKey,
  WEBSOCKET_GUID,
  writeAcceptKey,
} from "../src/websocket-key.ts";
import {
  acceptWebSocket,
  handleWebSocketUpgrade,
  isWebSocketRequest,
  negotiateWebSocket,
  rejectWebSocket,
  type WebSocketUpgrade,
} from "../src/websocket-server.ts";
import { browsers } from "./fixtures/browsers.ts";
import { bytes, head, text } from "./helpers.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function upgradeOk(h: ReturnType<typeof head>, options = {}): WebSocketUpgrade {
  const u = negotiateWebSocket(h, options);
  if (u instanceof HttpError) assert.fail("unexpected " + u.code);
  return u;
}

const base = (extra = "", drop: string[] = []) => {
  const lines = [
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
  ].filter((l) => !drop.some((d) => l.startsWith(d)));
  return "GET /chat HTTP/1.1\r\n" + lines.map((l) => l + "\r\n").join("") + extra + "\r\n";
};

describe("SHA-1 and the accept key", () => {
  it("RFC 6455 §1.3: dGhlIHNhbXBsZSBub25jZQ== → s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", () => {
    assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert.equal(computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==", nodeSha1), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });
  it("pure SHA-1 matches FIPS vectors and node:crypto on random inputs", () => {
    assert.equal(hex(pureSha1(bytes(""))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert.equal(hex(pureSha1(bytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(
      hex(pureSha1(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        assert.equal(hex(pureSha1(data)), hex(nodeSha1(data)));
      }),
      { numRuns: 300 },
    );
  });
  it("the key-specialised pure SHA-1 (writeAcceptKey) agrees with the generic one and node:crypto", () => {
    const out = new Uint8Array(32);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (nonce) => {
        const key = generateWebSocketKey((b) => b.set(nonce));
        assert.equal(writeAcceptKey(key, out, 2), 30);
        const accept = text(out.subarray(2, 30));
        assert.equal(accept, computeAcceptKey(key, pureSha1));
        assert.equal(accept, computeAcceptKey(key, nodeSha1));
      }),
      { numRuns: 300 },
    );
    assert.equal(out[0], 0);
    assert.equal(out[30], 0);
    // Invalid keys are hashed byte by byte as before (each code unit's low byte), never past 24.
    for (const key of ["", "short", "x".repeat(30), "é".repeat(24), "\u0141".repeat(24)]) {
      writeAcceptKey(key, out, 0);
      const input = new Uint8Array(60);
      for (let i = 0; i < 24; i++) input[i] = key.charCodeAt(i);
      input.set(bytes(WEBSOCKET_GUID), 24);
      const digest = pureSha1(input);
      const expected = new Uint8Array(28);
      writeAcceptKey("", expected, 0, () => digest);
      assert.deepEqual(out.subarray(0, 28), expected, JSON.stringify(key));
    }
  });
  it("accepts only 16-byte base64 keys", () => {
    assert.equal(isValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="), true);
    for (const k of [
      "",
      "dGhlIHNhbXBsZSBub25jZQ=",
      "dGhlIHNhbXBsZSBub25jZQ",
      "dGhlIHNhbXBsZSBub25jZQ===",
      "dGhlIHNhbXBsZSBub25j*Q==",
      "dGhlIHNhbXBsZSBub25jZSE=",
    ]) {
      assert.equal(isValidWebSocketKey(k), false, k);
    }
  });
});

describe("browser upgrade requests", () => {
  for (const fx of browsers) {
    it(`${fx.browser}: parsed whole and byte by byte, accepted with the right bytes`, () => {
      const raw = bytes(fx.raw);
      const whole = new RequestParser().push(raw);
      assert.equal(whole.kind, "head");
      if (whole.kind !== "head") return;
      assert.equal(whole.consumed, raw.length);
      const byByte = new RequestParser();
      let last: ReturnType<RequestParser["push"]> | undefined;
      for (let i = 0; i < raw.length; i++) last = byByte.push(raw.subarray(i, i + 1));
      assert.equal(last?.kind, "head");
      if (last?.kind === "head") assert.deepEqual(last.head.headers, whole.head.headers);
      const h = whole.head;
      assert.equal(isWebSocketRequest(h), true);
      assert.equal(h.upgrade, true);
      assert.equal(h.keepAlive, true);
      assert.equal(h.path, "/chat");
      const u = upgradeOk(h, { protocols: ["superchat", "chat"], extensions: [perMessageDeflate()] });
      assert.equal(u.origin, fx.origin);
      assert.equal(u.key, fx.key);
      assert.deepEqual(u.offeredProtocols, fx.protocols);
      assert.equal(u.protocol, fx.protocols.length ? "superchat" : undefined);
      assert.equal(findDeflate(u.extensions) !== undefined, fx.deflate);
      const response = text(acceptWebSocket(u, { sha1: nodeSha1 }));
      let expected =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
        fx.accept +
        "\r\n";
      if (u.protocol) expected += "Sec-WebSocket-Protocol: superchat\r\n";
      expected +=
        "Sec-WebSocket-Extensions: permessage-deflate" +
        (fx.raw.includes("client_max_window_bits") ? "" : "") +
        "\r\n\r\n";
      assert.equal(response, expected);
    });
  }
});

describe("server handshake", () => {
  it("produces the exact 101 bytes, with extra headers from the accept hook", () => {
    const u = upgradeOk(head(base("Sec-WebSocket-Protocol: v2.chat, v1.chat\r\n")), {
      protocols: ["v1.chat", "v2.chat"],
    });
    assert.equal(u.protocol, "v1.chat");
    const r = acceptWebSocket(u, { headers: [["Set-Cookie", "sid=1; HttpOnly"]] });
    assert.equal(
      text(r),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "Sec-WebSocket-Protocol: v1.chat\r\nSet-Cookie: sid=1; HttpOnly\r\n\r\n",
    );
    const plain = handleWebSocketUpgrade(head(base()));
    assert.ok(!(plain instanceof HttpError));
    assert.equal(
      text(plain.response),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
  });

  it("gives every response bytes of its own (pooled views never overlap), with and without extras", () => {
    const plain =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
    const keys = Array.from({ length: 200 }, (_, i) => generateWebSocketKey((b) => b.fill(i)));
    const responses = keys.map((key, i) => {
      const u = upgradeOk(head(base().replace("dGhlIHNhbXBsZSBub25jZQ==", key)));
      return acceptWebSocket(u, i % 3 === 0 ? { headers: [["X-N", String(i)]] } : {});
    });
    responses.forEach((r, i) => {
      const extra = i % 3 === 0 ? `X-N: ${i}\r\n` : "";
      assert.equal(text(r), plain + computeAcceptKey(keys[i]!, nodeSha1) + "\r\n" + extra + "\r\n");
      // Writing into one response leaves the others alone.
      r.fill(0);
      if (i + 1 < responses.length) assert.equal(text(responses[i + 1]!.subarray(0, 8)), "HTTP/1.1");
    });
    // A caller that transfers (detaches) a response's buffer does not break later responses.
    const first = responses[responses.length - 1]!;
    structuredClone(first.buffer, { transfer: [first.buffer] });
    assert.equal(first.length, 0);
    const again = handleWebSocketUpgrade(head(base()));
    assert.ok(!(again instanceof HttpError));
    assert.equal(text(again.response), plain + "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  });

  it("selects a subprotocol through a callback, or none", () => {
    const h = head(base("Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n"));
    assert.equal(
      upgradeOk(h, { protocols: (offered: readonly string[]) => offered[offered.length - 1] }).protocol,
      "c",
    );
    assert.equal(upgradeOk(h, { protocols: ["x"] }).protocol, undefined);
    assert.equal(upgradeOk(h).protocol, undefined);
    assert.throws(() => negotiateWebSocket(h, { protocols: () => "zzz" }), TypeError);
    const u = upgradeOk(h, { protocols: ["a"] });
    assert.ok(!text(acceptWebSocket(u, { protocol: null })).includes("Sec-WebSocket-Protocol"));
    assert.throws(() => acceptWebSocket(u, { protocol: "nope" }), TypeError);
  });

  it("negotiates extensions through the negotiator list (permessage-deflate via the codec)", () => {
    const h = head(
      base(
        "Sec-WebSocket-Extensions: x-unknown, permessage-deflate; client_max_window_bits; server_no_context_takeover\r\n",
      ),
    );
    const seen: string[] = [];
    const custom: ExtensionNegotiator<string> = {
      name: "x-unknown",
      negotiate: (offers) => {
        seen.push(offers.map((o) => o.name).join());
        return undefined;
      },
    };
    const u = upgradeOk(h, { extensions: [custom, perMessageDeflate({ clientMaxWindowBits: 12 })] });
    assert.deepEqual(seen, ["x-unknown"]);
    assert.equal(u.offeredExtensions.length, 2);
    assert.deepEqual(findDeflate(u.extensions), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 12,
    });
    assert.match(
      text(acceptWebSocket(u)),
      /\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=12\r\n\r\n$/,
    );
    // Without negotiators nothing is accepted and no header is sent.
    assert.ok(!text(acceptWebSocket(upgradeOk(h))).includes("Extensions"));
  });

  it("refuses reserved or injected headers in the accept hook's extras", () => {
    const u = upgradeOk(head(base()));
    assert.throws(() => acceptWebSocket(u, { headers: { "Sec-WebSocket-Accept": "x" } }), TypeError);
    assert.throws(() => acceptWebSocket(u, { headers: { "X-A": "1\r\nX-B: 2" } }), TypeError);
  });

  const rejection = (name: string, input: string, code: string, status: number, exact?: string) =>
    it(`${name} → ${status}`, () => {
      const e = negotiateWebSocket(head(input), { extensions: [perMessageDeflate()] });
      assert.ok(e instanceof HttpError, "expected an error");
      assert.equal(e.code, code);
      assert.equal(e.status, status);
      if (exact !== undefined) assert.equal(text(errorResponse(e)), exact);
    });
  rejection(
    "POST instead of GET",
    base().replace("GET", "POST"),
    "websocket-method",
    405,
    "HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nAllow: GET\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\n\r\nWebSocket handshake must use GET",
  );
  rejection("HTTP/1.0", base().replace("HTTP/1.1", "HTTP/1.0"), "websocket-http-version", 400);
  rejection("missing Upgrade", base("", ["Upgrade"]), "websocket-upgrade", 400);
  rejection("Upgrade: h2c", base("Upgrade: h2c\r\n", ["Upgrade"]), "websocket-upgrade", 400);
  rejection("missing Connection", base("", ["Connection"]), "websocket-connection", 400);
  rejection(
    "Connection: keep-alive only",
    base("Connection: keep-alive\r\n", ["Connection"]),
    "websocket-connection",
    400,
  );
  rejection("missing key", base("", ["Sec-WebSocket-Key"]), "websocket-key", 400);
  rejection("short key", base("Sec-WebSocket-Key: c2hvcnQ=\r\n", ["Sec-WebSocket-Key"]), "websocket-key", 400);
  rejection("two keys", base("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), "websocket-key", 400);
  rejection(
    "version 8",
    base("Sec-WebSocket-Version: 8\r\n", ["Sec-WebSocket-Version"]),
    "websocket-version",
    426,
    "HTTP/1.1 426 Upgrade Required\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n\r\nunsupported WebSocket version",
  );
  rejection("missing version", base("", ["Sec-WebSocket-Version"]), "websocket-version", 426);
  rejection("invalid subprotocol token", base("Sec-WebSocket-Protocol: a b\r\n"), "websocket-protocol", 400);
  rejection(
    "malformed extensions header",
    base("Sec-WebSocket-Extensions: permessage-deflate; =\r\n"),
    "websocket-extensions",
    400,
  );
  it("an invalid permessage-deflate offer is declined, not refused (RFC 7692 §7): 101 without it, or with the next offer", () => {
    const invalid = "permessage-deflate; server_max_window_bits=99";
    const alone = upgradeOk(head(base(`Sec-WebSocket-Extensions: ${invalid}\r\n`)), {
      extensions: [perMessageDeflate()],
    });
    assert.equal(findDeflate(alone.extensions), undefined);
    assert.match(text(acceptWebSocket(alone)), /^HTTP\/1\.1 101 /);
    assert.ok(!text(acceptWebSocket(alone)).includes("Sec-WebSocket-Extensions"));
    const repeated = "permessage-deflate; server_no_context_takeover; server_no_context_takeover";
    const next = upgradeOk(
      head(base(`Sec-WebSocket-Extensions: ${invalid}, ${repeated}, permessage-deflate; client_max_window_bits\r\n`)),
      { extensions: [perMessageDeflate()] },
    );
    assert.equal(findDeflate(next.extensions)?.serverNoContextTakeover, false);
    assert.match(text(acceptWebSocket(next)), /\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n$/);
  });
  it("missing Host is already refused by the head parser → 400", () => {
    const r = new RequestParser().push(bytes(base("", ["Host"])));
    assert.ok(r.kind === "error" && r.error.code === "missing-host");
  });
});

describe("client handshake", () => {
  const fill = (b: Uint8Array) => b.fill(7);
  it("builds the request with a random key, offers and extra headers", () => {
    const hs = createClientHandshake({
      host: "localhost:9000",
      path: "/ws?x=1",
      origin: "http://localhost:9000",
      protocols: ["chat", "superchat"],
      extensions: [perMessageDeflateClient()],
      headers: { Cookie: "a=1" },
      random: fill,
    });
    assert.equal(hs.key, "BwcHBwcHBwcHBwcHBwcHBw==");
    assert.equal(
      text(hs.request),
      "GET /ws?x=1 HTTP/1.1\r\nHost: localhost:9000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: BwcHBwcHBwcHBwcHBwcHBw==\r\n" +
        "Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:9000\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nCookie: a=1\r\n\r\n",
    );
    const a = createClientHandshake({ host: "h" });
    const b = createClientHandshake({ host: "h" });
    assert.notEqual(a.key, b.key);
    assert.equal(isValidWebSocketKey(a.key), true);
  });

  it("round-trips through the server side and validates the answer", () => {
    const hs = createClientHandshake({ host: "h", protocols: ["p1", "p2"], extensions: [perMessageDeflateClient()] });
    const parsed = new RequestParser().push(hs.request);
    assert.equal(parsed.kind, "head");
    if (parsed.kind !== "head") return;
    const server = handleWebSocketUpgrade(parsed.head, {
      protocols: ["p2"],
      extensions: [perMessageDeflate()],
      sha1: nodeSha1,
    });
    assert.ok(!(server instanceof HttpError));
    const answer = parseResponse(server.response);
    assert.equal(answer.kind, "head");
    if (answer.kind !== "head") return;
    const result = validateServerHandshake(hs, answer.head);
    assert.equal(result.protocol, "p2");
    assert.equal(findDeflate(result.extensions)?.clientMaxWindowBits, 15);
  });

  it("refuses a wrong status, accept value, subprotocol or extension", () => {
    const hs = createClientHandshake({ host: "h", protocols: ["p1"], random: fill });
    const accept = hs.expectedAccept;
    const check = (s: string) => {
      const r = parseResponse(bytes(s));
      assert.equal(r.kind, "head");
      if (r.kind === "head") assert.throws(() => validateServerHandshake(hs, r.head), WebSocketHandshakeError, s);
    };
    const ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    check("HTTP/1.1 200 OK\r\n\r\n");
    check(ok + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    check("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
    check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
    check(ok + "Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: p9\r\n\r\n");
    check(ok + "Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    const good = parseResponse(
      bytes(ok + "Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: p1\r\n\r\n"),
    );
    assert.ok(good.kind === "head" && validateServerHandshake(hs, good.head).protocol === "p1");
  });
});

describe("accept hook refusal", () => {
  it("gives the exact refusal bytes with the reason and extra headers", () => {
    assert.equal(
      text(rejectWebSocket(403, "origin not allowed", [["Vary", "Origin"]])),
      "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nVary: Origin\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 18\r\n\r\norigin not allowed",
    );
    assert.throws(() => rejectWebSocket(403, "x", [["Vary", "a\r\nb"]]), TypeError);
  });
});
