import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  buildUpgradeRequest,
  CLIENT_KEY,
  EXPECTED_ACCEPT,
  findHeadEnd,
  readUpgradeResponse,
} from "../src/handshake.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("client handshake", () => {
  it("the expected accept value is SHA-1 of the key and the GUID (RFC 6455 §4.2.2)", () => {
    const accept = createHash("sha1").update(`${CLIENT_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    assert.equal(accept, EXPECTED_ACCEPT);
  });

  it("builds a version 13 upgrade request for the URL's path and host", () => {
    const text = new TextDecoder().decode(buildUpgradeRequest("ws://127.0.0.1:9001/broadcast?x=1"));
    assert.match(text, /^GET \/broadcast\?x=1 HTTP\/1\.1\r\n/);
    assert.match(text, /\r\nHost: 127\.0\.0\.1:9001\r\n/);
    assert.match(text, /\r\nSec-WebSocket-Version: 13\r\n/);
    assert.match(text, new RegExp(`\\r\\nSec-WebSocket-Key: ${CLIENT_KEY}\\r\\n`));
    assert.ok(text.endsWith("\r\n\r\n"));
  });

  it("accepts a 101 with the right accept and tells where frames start", () => {
    const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept: ${EXPECTED_ACCEPT}\r\n\r\n`;
    const r = readUpgradeResponse(enc(`${head}\x81\x00`));
    assert.deepEqual(r, { state: "accepted", headLength: head.length });
  });

  it("waits for the rest of a split head", () => {
    assert.deepEqual(readUpgradeResponse(enc("HTTP/1.1 101 Switching Protocols\r\nUpgrade: web")), {
      state: "incomplete",
    });
    assert.equal(findHeadEnd(enc("a\r\n\r")), -1);
  });

  it("rejects other statuses and a wrong accept", () => {
    assert.equal(readUpgradeResponse(enc("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")).state, "rejected");
    assert.equal(readUpgradeResponse(enc("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: nope\r\n\r\n")).state, "rejected");
    assert.equal(readUpgradeResponse(new Uint8Array(9000).fill(65)).state, "rejected");
  });
});
