import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  closeFrameFor,
  concatFrame,
  encodeCloseFrame,
  encodeClosePayload,
  encodeFrame,
  encodeFrameBytes,
  encodeFrameHeader,
  fragmentMessage,
  frameHeaderSize,
  Opcode,
  ProtocolError,
  truncateReason,
} from "../src/index.ts";
import { bytes, hex, te } from "./helpers.ts";

const KEY = bytes(0x37, 0xfa, 0x21, 0x3d);

describe("RFC 6455 §5.7 examples (encoder)", () => {
  it("single-frame unmasked text 'Hello'", () => {
    assert.equal(hex(concatFrame(encodeFrame(Opcode.Text, te.encode("Hello")))), "81 05 48 65 6c 6c 6f");
  });
  it("single-frame masked text 'Hello'", () => {
    assert.equal(
      hex(concatFrame(encodeFrame(Opcode.Text, te.encode("Hello"), { mask: KEY }))),
      "81 85 37 fa 21 3d 7f 9f 4d 51 58",
    );
  });
  it("fragmented unmasked text 'Hel' + 'lo'", () => {
    const frames = fragmentMessage(Opcode.Text, te.encode("Hello"), 3).map(concatFrame);
    assert.deepEqual(frames.map(hex), ["01 03 48 65 6c", "80 02 6c 6f"]);
  });
  it("unmasked ping and masked pong", () => {
    assert.equal(hex(encodeFrameBytes(Opcode.Ping, te.encode("Hello"))), "89 05 48 65 6c 6c 6f");
    assert.equal(
      hex(encodeFrameBytes(Opcode.Pong, te.encode("Hello"), { mask: KEY })),
      "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
    );
  });
  it("256-byte binary message: 16-bit length", () => {
    const [h, p] = encodeFrame(Opcode.Binary, new Uint8Array(256));
    assert.equal(hex(h), "82 7e 01 00");
    assert.equal(p.length, 256);
  });
  it("64 KiB binary message: 64-bit length", () => {
    const [h] = encodeFrame(Opcode.Binary, new Uint8Array(65536));
    assert.equal(hex(h), "82 7f 00 00 00 00 00 01 00 00");
  });
});

describe("encoder", () => {
  it("chooses the header size from the length", () => {
    for (const [len, size] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
    ] as const) {
      assert.equal(encodeFrameHeader({ opcode: 2, length: len }).length, size);
      assert.equal(encodeFrameHeader({ opcode: 2, length: len, mask: true }).length, size + 4);
      assert.equal(frameHeaderSize(len, true), size + 4);
    }
  });
  it("encodes lengths above 2^32", () => {
    assert.equal(hex(encodeFrameHeader({ opcode: 2, length: 2 ** 40 + 5 })), "82 7f 00 00 01 00 00 00 00 05");
  });
  it("sets FIN and RSV bits", () => {
    assert.equal(encodeFrameHeader({ opcode: 1, length: 0, fin: false, rsv1: true })[0], 0x41);
    assert.equal(encodeFrameHeader({ opcode: 1, length: 0, rsv2: true, rsv3: true })[0], 0xb1);
  });
  it("does not copy unmasked payloads and never modifies the caller's bytes unless asked", () => {
    const payload = te.encode("Hello");
    assert.equal(encodeFrame(Opcode.Text, payload)[1], payload);
    const [, masked] = encodeFrame(Opcode.Text, payload, { mask: KEY });
    assert.notEqual(masked, payload);
    assert.equal(hex(payload), "48 65 6c 6c 6f");
    const [, inPlace] = encodeFrame(Opcode.Text, payload, { mask: KEY, maskInPlace: true });
    assert.equal(inPlace, payload);
    assert.equal(hex(payload), "7f 9f 4d 51 58");
  });
  it("random keys differ between frames", () => {
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) keys.add(hex(encodeFrameHeader({ opcode: 1, length: 0, mask: true }).subarray(2)));
    assert.ok(keys.size > 45);
  });
  it("rejects fragmented or oversized control frames", () => {
    assert.throws(() => encodeFrame(Opcode.Ping, new Uint8Array(126)), RangeError);
    assert.throws(() => encodeFrame(Opcode.Ping, new Uint8Array(1), { fin: false }), RangeError);
    assert.throws(() => fragmentMessage(Opcode.Ping, new Uint8Array(1), 1), RangeError);
  });
  it("fragments with RSV1 on the first frame only", () => {
    const frames = fragmentMessage(Opcode.Binary, new Uint8Array(10), 4, { rsv1: true });
    assert.deepEqual(
      frames.map(([h]) => h[0]),
      [0x42, 0x00, 0x80],
    );
    assert.deepEqual(
      frames.map(([, p]) => p.length),
      [4, 4, 2],
    );
    assert.equal(fragmentMessage(Opcode.Text, new Uint8Array(0), 4).length, 1);
  });
});

describe("close frames", () => {
  it("encodes code and reason", () => {
    assert.equal(hex(encodeCloseFrame(1000, "ok")), "88 04 03 e8 6f 6b");
    assert.equal(hex(encodeCloseFrame()), "88 00");
    assert.equal(hex(encodeClosePayload(4999)), "13 87");
  });
  it("masks close frames for clients", () => {
    assert.equal(encodeCloseFrame(1000, "", { mask: true }).length, 2 + 4 + 2);
  });
  it("refuses codes that must not be sent and reasons over 123 bytes", () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000])
      assert.throws(() => encodeClosePayload(code), RangeError);
    assert.throws(() => encodeClosePayload(1000, "x".repeat(124)), RangeError);
    assert.doesNotThrow(() => encodeClosePayload(1000, "x".repeat(123)));
    assert.throws(() => encodeClosePayload(undefined, "reason"), RangeError);
  });
  it("truncates reasons on a code point boundary", () => {
    const reason = "é".repeat(100); // 200 bytes
    const cut = truncateReason(reason);
    assert.equal(te.encode(cut).length, 122);
    assert.equal(truncateReason("short"), "short");
  });
  it("turns a ProtocolError into its close frame", () => {
    const frame = closeFrameFor(new ProtocolError("too-big", "message too big"));
    assert.equal(frame[0], 0x88);
    assert.equal((frame[2]! << 8) | frame[3]!, 1009);
    assert.equal(new TextDecoder().decode(frame.subarray(4)), "message too big");
  });
});
