import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  concatFrame,
  DecoderEvent,
  type DeflateEngine,
  encodeCloseFrame,
  encodeFrame,
  encodeFrameBytes,
  encodeFrameHeader,
  FrameDecoder,
  FrameEvent,
  fragmentMessage,
  MessageDecoder,
  Opcode,
  PerMessageDeflate,
  type Role,
} from "../src/index.ts";
import { bytes, chunk, concat, drain, type Ev, td, te } from "./helpers.ts";

const server = () => new MessageDecoder({ role: "server" });
const KEY = bytes(0x37, 0xfa, 0x21, 0x3d);

/** A frame as a client would send it (masked); no validation, so it can break every rule. */
function cf(
  opcode: number,
  payload: Uint8Array | string,
  opts: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean } = {},
) {
  const data = typeof payload === "string" ? te.encode(payload) : payload;
  // Build as a data frame (the encoder refuses invalid control frames), then patch the opcode.
  const header = encodeFrameHeader({ opcode: 2, length: data.length, mask: true, ...opts });
  header[0] = (header[0]! & 0xf0) | opcode;
  const key = header.subarray(header.length - 4);
  const body = data.map((b, i) => b ^ key[i & 3]!);
  return concat([header, body]);
}

/** Feeds bytes (whole) to a server decoder and returns the first error event. */
function errorOf(data: Uint8Array, decoder: MessageDecoder = server()): Ev {
  const evs = drain(decoder, [data]);
  const err = evs.find((e) => e.ev === DecoderEvent.Error);
  assert.ok(err, `expected an error, got ${JSON.stringify(evs.map((e) => e.ev))}`);
  return err;
}

// A fake engine for rule tests that need a negotiated extension without zlib.
const fakeEngine: DeflateEngine = {
  createCompressor: () => ({ compress: async (d) => d, reset() {}, close() {} }),
  createDecompressor: () => ({ decompress: async (d) => d.subarray(0, d.length - 4), reset() {}, close() {} }),
};
const withDeflate = (role: Role = "server") =>
  new MessageDecoder({
    role,
    deflate: new PerMessageDeflate(
      fakeEngine,
      {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
      role,
    ),
  });

describe("RFC 6455 §5.7 examples (decoder)", () => {
  it("single-frame unmasked text (client role)", () => {
    const evs = drain(new MessageDecoder({ role: "client" }), [bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f)]);
    assert.deepEqual(evs, [{ ev: DecoderEvent.Text, data: te.encode("Hello") }]);
  });
  it("single-frame masked text (server role)", () => {
    const evs = drain(server(), [bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58)]);
    assert.deepEqual(evs, [{ ev: DecoderEvent.Text, data: te.encode("Hello") }]);
  });
  it("fragmented unmasked text", () => {
    const evs = drain(new MessageDecoder({ role: "client" }), [
      bytes(0x01, 0x03, 0x48, 0x65, 0x6c),
      bytes(0x80, 0x02, 0x6c, 0x6f),
    ]);
    assert.deepEqual(evs, [{ ev: DecoderEvent.Text, data: te.encode("Hello") }]);
  });
  it("unmasked ping, masked pong", () => {
    assert.deepEqual(drain(new MessageDecoder({ role: "client" }), [bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f)]), [
      { ev: DecoderEvent.Ping, data: te.encode("Hello") },
    ]);
    assert.deepEqual(drain(server(), [bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58)]), [
      { ev: DecoderEvent.Pong, data: te.encode("Hello") },
    ]);
  });
  it("256 B and 64 KiB binary with 16- and 64-bit lengths", () => {
    const p256 = new Uint8Array(256).map((_, i) => i);
    const p64k = new Uint8Array(65536).map((_, i) => i * 7);
    const evs = drain(new MessageDecoder({ role: "client" }), [
      concat([bytes(0x82, 0x7e, 0x01, 0x00), p256]),
      concat([bytes(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), p64k]),
    ]);
    assert.deepEqual(evs, [
      { ev: DecoderEvent.Binary, data: p256 },
      { ev: DecoderEvent.Binary, data: p64k },
    ]);
  });
});

describe("large masked frames split across chunks", () => {
  it("come out intact for any key, chunking and fragmentation, text and binary", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 900, max: 40_000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        (size, key, cuts, frames, text) => {
          // Text: 2- and 3-byte characters, so UTF-8 sequences straddle chunk boundaries.
          const payload = text
            ? te.encode("héllo €uro ".repeat(Math.ceil(size / 14))).subarray(0, size)
            : new Uint8Array(size).map((_, i) => (i * 37 + 11) & 0xff);
          const whole = text ? te.encode(td.decode(payload).replace(/\uFFFD/g, "a")) : payload;
          const per = Math.ceil(whole.length / frames);
          const wire: Uint8Array[] = [];
          for (let at = 0, f = 0; at < whole.length; at += per, f++) {
            const last = at + per >= whole.length;
            wire.push(
              encodeFrameBytes(f === 0 ? (text ? 1 : 2) : 0, whole.subarray(at, at + per), {
                fin: last,
                mask: key,
              }),
            );
          }
          const stream = concat(wire);
          const evs = drain(new MessageDecoder({ role: "server" }), chunk(stream, cuts));
          assert.deepEqual(evs, [{ ev: text ? DecoderEvent.Text : DecoderEvent.Binary, data: whole }]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

type Msg =
  | { kind: "msg"; opcode: 1 | 2; payload: Uint8Array; frag: number }
  | { kind: "ping" | "pong"; payload: Uint8Array };

const arbMsg: fc.Arbitrary<Msg> = fc.oneof(
  fc.record({
    kind: fc.constant("msg" as const),
    opcode: fc.constant(1 as const),
    payload: fc.string({ unit: "grapheme", maxLength: 300 }).map((s) => te.encode(s)),
    frag: fc.integer({ min: 1, max: 400 }),
  }),
  fc.record({
    kind: fc.constant("msg" as const),
    opcode: fc.constant(2 as const),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: 70000 }).map((n) => new Uint8Array(n).fill(n & 0xff)),
    ),
    frag: fc.integer({ min: 1, max: 100_000 }),
  }),
  fc.record({ kind: fc.constantFrom("ping" as const, "pong" as const), payload: fc.uint8Array({ maxLength: 125 }) }),
);

const arbChunks = fc.oneof(
  fc.constant([1]),
  fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }),
  fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 4 }),
);

/** Encodes messages; pings are interleaved between the fragments of the next message. */
function encodeAll(msgs: Msg[], role: Role): { wire: Uint8Array; expected: Ev[] } {
  const parts: Uint8Array[] = [];
  const expected: Ev[] = [];
  const mask = role === "server"; // frames a server decodes come masked from the client
  let pendingControl: Uint8Array[] = [];
  let pendingExpected: Ev[] = [];
  for (const m of msgs) {
    if (m.kind !== "msg") {
      pendingControl.push(encodeFrameBytes(m.kind === "ping" ? Opcode.Ping : Opcode.Pong, m.payload, { mask }));
      pendingExpected.push({ ev: m.kind === "ping" ? DecoderEvent.Ping : DecoderEvent.Pong, data: m.payload });
      continue;
    }
    const frames = fragmentMessage(m.opcode, m.payload, m.frag, { mask }).map(concatFrame);
    // Put the pending control frames after the first fragment (between fragments when there are several).
    parts.push(frames[0]!, ...pendingControl, ...frames.slice(1));
    // With one frame the control frames follow the message; with several they arrive before its end.
    if (frames.length > 1) expected.push(...pendingExpected, { ev: m.opcode, data: m.payload });
    else expected.push({ ev: m.opcode, data: m.payload }, ...pendingExpected);
    pendingControl = [];
    pendingExpected = [];
  }
  parts.push(...pendingControl);
  expected.push(...pendingExpected);
  return { wire: concat(parts), expected };
}

describe("decoder properties", () => {
  it("encode→decode is the identity under random chunkings, with pings between fragments", () => {
    fc.assert(
      fc.property(
        fc.array(arbMsg, { maxLength: 12 }),
        arbChunks,
        fc.constantFrom<Role>("server", "client"),
        (msgs, sizes, role) => {
          const { wire, expected } = encodeAll(msgs, role);
          const evs = drain(new MessageDecoder({ role, maxFragments: 1 << 20 }), chunk(wire, sizes));
          assert.deepEqual(evs, expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("frames inside one chunk come out as views of that chunk (zero copy)", () => {
    const wire = concat([cf(2, new Uint8Array(1000).fill(7)), cf(1, "hello")]);
    const d = server();
    d.push(wire);
    assert.equal(d.next(), DecoderEvent.Binary);
    assert.equal(d.data.buffer, wire.buffer);
    assert.equal(d.data.byteOffset, 2 + 2 + 4);
    assert.ok(d.data.every((b) => b === 7));
    assert.equal(d.next(), DecoderEvent.Text);
    assert.equal(d.data.buffer, wire.buffer);
    assert.equal(td.decode(d.data), "hello");
  });

  it("keeps a split header in a spill of at most 14 bytes", () => {
    const frame = cf(2, new Uint8Array(70000));
    const d = server();
    for (let i = 0; i < 13; i++) {
      d.push(frame.subarray(i, i + 1));
      assert.equal(d.next(), DecoderEvent.None);
      assert.ok(((d as unknown as { spill?: Uint8Array }).spill?.length ?? 0) <= 14);
    }
    d.push(frame.subarray(13));
    assert.equal(d.next(), DecoderEvent.Binary);
    assert.equal(d.data.length, 70000);
  });

  it("reports buffered bytes", () => {
    const d = server();
    d.push(cf(1, "a"));
    d.push(cf(1, "b"));
    assert.equal(d.buffered, 14);
    assert.equal(d.next(), DecoderEvent.Text);
    assert.equal(d.buffered, 7);
  });

  it("random or mutated byte streams only give events or a ProtocolError, terminate, and stay bounded", () => {
    const valid = fc.array(arbMsg, { maxLength: 6 }).map((m) => encodeAll(m, "server").wire);
    const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 })).map(([wire, muts]) => {
      for (const [at, v] of muts) if (wire.length > 0) wire[at % wire.length] = v;
      return wire;
    });
    const arbBytes = fc.oneof(fc.uint8Array({ maxLength: 2000 }), mutated);
    const known = new Set<number>(Object.values(DecoderEvent));
    fc.assert(
      fc.property(arbBytes, arbChunks, fc.constantFrom<Role>("server", "client"), (wire, sizes, role) => {
        const maxPayload = 4096;
        const d = new MessageDecoder({ role, maxPayload, maxFragments: 64 });
        let events = 0;
        let errors = 0;
        for (const c of chunk(wire, sizes)) {
          d.push(c);
          for (let ev = d.next(); ev !== DecoderEvent.None; ev = d.next()) {
            assert.ok(known.has(ev) && ev !== DecoderEvent.Compressed);
            if (ev === DecoderEvent.Error) {
              errors++;
              assert.ok([1002, 1007, 1009].includes(d.error!.closeCode));
            }
            events++;
            assert.ok(events <= wire.length, "more events than bytes: a loop");
          }
          const buf = (d as unknown as { msgBuf?: Uint8Array }).msgBuf;
          assert.ok((buf?.length ?? 0) <= maxPayload);
        }
        assert.ok(errors <= 1);
      }),
      { numRuns: 500 },
    );
  });
});

describe("RFC 6455 rules, one close code each", () => {
  it("reserved data opcode → 1002", () => assert.equal(errorOf(cf(3, "x")).closeCode, 1002));
  it("reserved control opcode → 1002", () => assert.equal(errorOf(cf(11, "x")).closeCode, 1002));
  it("RSV1 without a negotiated extension → 1002", () =>
    assert.equal(errorOf(cf(1, "x", { rsv1: true })).closeCode, 1002));
  it("RSV2 → 1002", () => assert.equal(errorOf(cf(1, "x", { rsv2: true })).closeCode, 1002));
  it("RSV3 → 1002", () => assert.equal(errorOf(cf(2, "x", { rsv3: true })).closeCode, 1002));
  it("RSV2 even with permessage-deflate → 1002", () => {
    assert.equal(errorOf(cf(2, "x", { rsv2: true }), withDeflate()).closeCode, 1002);
  });
  it("RSV1 on a continuation frame with permessage-deflate → 1002", () => {
    const wire = concat([cf(2, "a", { fin: false, rsv1: true }), cf(0, "b", { rsv1: true })]);
    assert.equal(errorOf(wire, withDeflate()).closeCode, 1002);
  });
  it("RSV1 on a control frame with permessage-deflate → 1002", () => {
    assert.equal(errorOf(cf(9, "a", { rsv1: true }), withDeflate()).closeCode, 1002);
  });
  it("control frame over 125 bytes → 1002", () => assert.equal(errorOf(cf(9, new Uint8Array(126))).closeCode, 1002));
  it("fragmented control frame → 1002", () => assert.equal(errorOf(cf(9, "x", { fin: false })).closeCode, 1002));
  it("continuation without a start → 1002", () => assert.equal(errorOf(cf(0, "x")).closeCode, 1002));
  it("new data frame inside a fragmented message → 1002", () => {
    assert.equal(errorOf(concat([cf(1, "a", { fin: false }), cf(2, "b")])).closeCode, 1002);
  });
  it("unmasked client frame (server role) → 1002", () => {
    assert.equal(errorOf(encodeFrameBytes(1, te.encode("x"))).closeCode, 1002);
  });
  it("masked server frame (client role) → 1002", () => {
    assert.equal(errorOf(cf(1, "x"), new MessageDecoder({ role: "client" })).closeCode, 1002);
  });
  it("64-bit length with the top bit set → 1002", () => {
    assert.equal(errorOf(bytes(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4)).closeCode, 1002);
  });
  it("close frame with a 1-byte payload → 1002", () => assert.equal(errorOf(cf(8, bytes(3))).closeCode, 1002));
  it("invalid close codes → 1002; valid ones accepted", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
      assert.equal(errorOf(cf(8, bytes(code >> 8, code & 0xff))).closeCode, 1002, String(code));
    }
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) {
      assert.deepEqual(drain(server(), [cf(8, bytes(code >> 8, code & 0xff, 0x6f, 0x6b))]), [
        { ev: DecoderEvent.Close, code, reason: "ok" },
      ]);
    }
    assert.deepEqual(drain(server(), [cf(8, "")]), [{ ev: DecoderEvent.Close, code: 1005, reason: "" }]);
  });
  it("frame over maxPayload → 1009 from the header, before the payload arrives", () => {
    const d = new MessageDecoder({ role: "server", maxPayload: 1000 });
    const frame = cf(2, new Uint8Array(1001));
    assert.equal(errorOf(frame.subarray(0, 8), d).closeCode, 1009);
  });
  it("control frame over a (small) maxPayload → 1009", () => {
    assert.equal(
      errorOf(cf(9, new Uint8Array(20)), new MessageDecoder({ role: "server", maxPayload: 16 })).closeCode,
      1009,
    );
  });
  it("a payload of exactly maxPayload is accepted", () => {
    const d = new MessageDecoder({ role: "server", maxPayload: 1000 });
    assert.equal(drain(d, [cf(2, new Uint8Array(1000))])[0]!.ev, DecoderEvent.Binary);
  });
  it("fragmented message over maxPayload → 1009", () => {
    const d = new MessageDecoder({ role: "server", maxPayload: 1000 });
    const wire = concat([cf(2, new Uint8Array(600), { fin: false }), cf(0, new Uint8Array(600))]);
    assert.equal(errorOf(wire, d).closeCode, 1009);
  });
  it("too many fragments → 1009", () => {
    const d = new MessageDecoder({ role: "server", maxFragments: 100 });
    const parts = [cf(2, "a", { fin: false })];
    for (let i = 0; i < 200; i++) parts.push(cf(0, "a", { fin: false }));
    const evs = drain(d, [concat(parts)]);
    assert.deepEqual(evs, [{ ev: DecoderEvent.Error, closeCode: 1009, reason: "message has too many fragments" }]);
  });
  it("tiny fragments are charged their overhead against maxPayload → 1009", () => {
    const d = new MessageDecoder({ role: "server", maxPayload: 1000 });
    const parts = [cf(2, "a", { fin: false })];
    for (let i = 0; i < 100; i++) parts.push(cf(0, "a", { fin: false }));
    // 101 bytes of payload, but 101 fragments × 16 bytes of overhead > 1000.
    assert.equal(errorOf(concat(parts), d).closeCode, 1009);
  });
  it("invalid UTF-8 in a text message → 1007", () => assert.equal(errorOf(cf(1, bytes(0xff))).closeCode, 1007));
  it("an injected whole-message validator is used for messages in one piece", () => {
    const seen: number[] = [];
    const isUtf8 = (b: Uint8Array) => {
      seen.push(b.length);
      return b[0] !== 0x21; // pretend "!" is invalid
    };
    const ok = "o".repeat(200);
    const bad = "!".repeat(200);
    assert.equal(
      drain(new MessageDecoder({ role: "server", isUtf8 }), [cf(1, ok), cf(1, "short")])[1]?.ev,
      DecoderEvent.Text,
    );
    assert.equal(errorOf(cf(1, bad), new MessageDecoder({ role: "server", isUtf8 })).closeCode, 1007);
    assert.deepEqual(seen, [200, 200], "short messages use the JavaScript validator");
  });
  it("truncated UTF-8 at the end of a text message → 1007", () => {
    assert.equal(errorOf(cf(1, bytes(0x41, 0xe2, 0x82))).closeCode, 1007);
  });
  it("invalid UTF-8 in a close reason → 1007", () => {
    assert.equal(errorOf(cf(8, bytes(0x03, 0xe8, 0xff))).closeCode, 1007);
    assert.equal(errorOf(cf(8, bytes(0x03, 0xe8, 0xce))).closeCode, 1007);
  });
  it("UTF-8 fails fast across fragments: before the message ends", () => {
    const d = server();
    // 'κ' = ce ba split across fragments is fine; then ce 41 is invalid in the second fragment.
    assert.deepEqual(drain(d, [cf(1, bytes(0x61, 0xce), { fin: false })]), []);
    assert.deepEqual(drain(d, [cf(0, bytes(0xba, 0x62), { fin: false })]), []);
    const evs = drain(d, [cf(0, bytes(0xce, 0x41), { fin: false })]);
    assert.equal(evs[0]?.closeCode, 1007);
  });
  it("UTF-8 fails fast inside one frame split across chunks", () => {
    const frame = cf(1, concat([te.encode("a".repeat(100)), bytes(0xc0), te.encode("b".repeat(1000))]));
    const d = server();
    assert.deepEqual(drain(d, [frame.subarray(0, 50)]), []);
    const evs = drain(d, [frame.subarray(50, 120)]); // contains the bad byte, not the end of the frame
    assert.equal(evs[0]?.closeCode, 1007);
  });
  it("discards everything after an error and after a close", () => {
    const d = server();
    const evs = drain(d, [concat([cf(3, "x"), cf(1, "after")])]);
    assert.equal(evs.length, 1);
    assert.ok(d.failed);
    const c = server();
    const evs2 = drain(c, [concat([cf(8, bytes(0x03, 0xe8)), cf(1, "after")])]);
    assert.deepEqual(evs2, [{ ev: DecoderEvent.Close, code: 1000, reason: "" }]);
    assert.ok(c.closed);
    c.push(cf(1, "more"));
    assert.equal(c.buffered, 0, "input after a close frame is not kept");
    d.push(cf(1, "more"));
    assert.equal(d.buffered, 0, "input after an error is not kept");
  });
  it("accepts a close frame from the encoder", () => {
    const evs = drain(new MessageDecoder({ role: "client" }), [encodeCloseFrame(4001, "bye ✓")]);
    assert.deepEqual(evs, [{ ev: DecoderEvent.Close, code: 4001, reason: "bye ✓" }]);
  });
});

describe("FrameDecoder", () => {
  it("emits header then payload pieces, unmasked", () => {
    const d = new FrameDecoder();
    const [h, p] = encodeFrame(2, bytes(1, 2, 3, 4, 5, 6), { mask: KEY });
    d.push(h);
    d.push(p.subarray(0, 4));
    assert.equal(d.nextFrame(), FrameEvent.Header);
    assert.equal(d.length, 6);
    assert.ok(d.masked && d.fin);
    assert.equal(d.nextFrame(), FrameEvent.Data);
    assert.deepEqual(d.data, bytes(1, 2, 3, 4));
    assert.equal(d.remaining, 2);
    assert.equal(d.nextFrame(), FrameEvent.None);
    d.push(p.subarray(4));
    assert.equal(d.nextFrame(), FrameEvent.Data);
    assert.deepEqual(d.data, bytes(5, 6));
    assert.equal(d.offset, 4);
    assert.equal(d.remaining, 0);
  });
});
