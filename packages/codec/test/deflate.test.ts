import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  concatFrame,
  DecoderEvent,
  encodeFrame,
  fragmentMessage,
  MessageDecoder,
  type NegotiatedDeflate,
  Opcode,
  ProtocolError,
} from "../src/index.ts";
import { createNodeDeflate, createPerMessageDeflate } from "../src/node/deflate.ts";
import { bytes, concat, hex, td, te } from "./helpers.ts";

const takeover: NegotiatedDeflate = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const noTakeover: NegotiatedDeflate = { ...takeover, serverNoContextTakeover: true, clientNoContextTakeover: true };

/** Decodes server→client frames with permessage-deflate and returns the texts. */
async function clientDecode(wire: Uint8Array[], params = takeover): Promise<string[]> {
  const session = createPerMessageDeflate(params, "client");
  const d = new MessageDecoder({ role: "client", deflate: session });
  const out: string[] = [];
  try {
    for (const c of wire) {
      d.push(c);
      for (let ev = d.next(); ev !== DecoderEvent.None; ev = d.next()) {
        if (ev === DecoderEvent.Compressed) ev = await d.inflate();
        assert.equal(ev, DecoderEvent.Text, d.error?.reason);
        out.push(td.decode(d.data));
      }
    }
  } finally {
    session.close();
  }
  return out;
}

describe("RFC 7692 §7.2.3 examples", () => {
  it("§7.2.3.1 'Hello' in one compressed frame", async () => {
    assert.deepEqual(await clientDecode([bytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00)]), ["Hello"]);
  });
  it("§7.2.3.1 'Hello' compressed and fragmented (RSV1 on the first frame only)", async () => {
    assert.deepEqual(
      await clientDecode([bytes(0x41, 0x03, 0xf2, 0x48, 0xcd), bytes(0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00)]),
      ["Hello"],
    );
  });
  it("§7.2.3.2 two messages sharing the LZ77 window", async () => {
    const wire = [
      bytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00),
      bytes(0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00),
    ];
    assert.deepEqual(await clientDecode(wire), ["Hello", "Hello"]);
  });
  it("§7.2.3.3 a DEFLATE block with no compression", async () => {
    assert.deepEqual(
      await clientDecode([bytes(0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00)]),
      ["Hello"],
    );
  });
  it("§7.2.3.5 two DEFLATE blocks in one message", async () => {
    const wire = bytes(0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00);
    assert.deepEqual(await clientDecode([wire]), ["Hello"]);
  });
  it("compresses 'Hello' like the RFC, with and without context takeover", async () => {
    const shared = createPerMessageDeflate(takeover, "server");
    assert.equal(hex(await shared.compress(te.encode("Hello"))), "f2 48 cd c9 c9 07 00");
    assert.equal(hex(await shared.compress(te.encode("Hello"))), "f2 00 11 00 00");
    shared.close();
    const fresh = createPerMessageDeflate(noTakeover, "server");
    assert.equal(hex(await fresh.compress(te.encode("Hello"))), "f2 48 cd c9 c9 07 00");
    assert.equal(hex(await fresh.compress(te.encode("Hello"))), "f2 48 cd c9 c9 07 00");
    fresh.close();
  });
});

describe("permessage-deflate sessions", () => {
  it("compress→decompress is the identity, with and without context takeover, through the decoder", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 3000 }),
            fc.string({ maxLength: 500 }).map((s) => te.encode(s.repeat(3))),
          ),
          {
            maxLength: 6,
          },
        ),
        fc.boolean(),
        fc.integer({ min: 1, max: 2000 }),
        async (messages, contextTakeover, frag) => {
          const params = contextTakeover ? takeover : noTakeover;
          const client = createPerMessageDeflate(params, "client", { threshold: 0 });
          const server = createPerMessageDeflate(params, "server");
          const d = new MessageDecoder({ role: "server", deflate: server });
          try {
            for (const m of messages) {
              const compressed = await client.compress(m);
              const frames = fragmentMessage(Opcode.Binary, compressed, frag, { mask: true, rsv1: true });
              d.push(concat(frames.map(concatFrame)));
              assert.equal(d.next(), DecoderEvent.Compressed);
              assert.equal(await d.inflate(), DecoderEvent.Binary, d.error?.reason);
              assert.deepEqual(new Uint8Array(d.data), m);
              assert.equal(d.next(), DecoderEvent.None);
            }
          } finally {
            client.close();
            server.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("applies the threshold", () => {
    const s = createPerMessageDeflate(takeover, "server", { threshold: 100 });
    assert.equal(s.shouldCompress(99), false);
    assert.equal(s.shouldCompress(100), true);
    s.close();
  });

  it("keeps results in call order", async () => {
    const s = createPerMessageDeflate(takeover, "client");
    const r = createPerMessageDeflate(takeover, "server");
    const inputs = Array.from({ length: 20 }, (_, i) => te.encode(`message ${i} `.repeat(i * 10)));
    const compressed = await Promise.all(inputs.map((m) => s.compress(m)));
    const outputs = await Promise.all(compressed.map((c) => r.decompress(c)));
    assert.deepEqual(
      outputs.map((o) => td.decode(o)),
      inputs.map((m) => td.decode(m)),
    );
    s.close();
    r.close();
  });

  it("a zip bomb closes with 1009 without inflating it all", async () => {
    const big = new Uint8Array(32 * 1024 * 1024); // 32 MiB of zeros → ~32 KiB compressed
    const c = createPerMessageDeflate(takeover, "client");
    const bomb = await c.compress(big);
    c.close();
    assert.ok(bomb.length < 200_000);
    // Count what the engine actually produces before it stops.
    const engine = createNodeDeflate();
    const inflater = engine.createDecompressor({ windowBits: 15 });
    const out = await inflater.decompress(concat([bomb, bytes(0, 0, 0xff, 0xff)]), 1024 * 1024);
    assert.equal(out, undefined);
    inflater.close();

    const s = createPerMessageDeflate(takeover, "server", { maxDecompressedSize: 1024 * 1024 });
    const d = new MessageDecoder({ role: "server", deflate: s });
    d.push(concatFrame(encodeFrame(Opcode.Binary, bomb, { mask: true, rsv1: true })));
    assert.equal(d.next(), DecoderEvent.Compressed);
    assert.equal(await d.inflate(), DecoderEvent.Error);
    assert.equal(d.error?.closeCode, 1009);
    assert.equal(d.next(), DecoderEvent.None);
    s.close();
  });

  it("the decoder's maxPayload also bounds the decompressed size", async () => {
    const c = createPerMessageDeflate(takeover, "client");
    const data = await c.compress(new Uint8Array(10_000));
    c.close();
    const s = createPerMessageDeflate(takeover, "server");
    const d = new MessageDecoder({ role: "server", deflate: s, maxPayload: 5000 });
    d.push(concatFrame(encodeFrame(Opcode.Binary, data, { mask: true, rsv1: true })));
    assert.equal(d.next(), DecoderEvent.Compressed);
    assert.equal(await d.inflate(), DecoderEvent.Error);
    assert.equal(d.error?.closeCode, 1009);
    s.close();
  });

  it("corrupt compressed data closes with 1007; invalid UTF-8 after inflating with 1007", async () => {
    const s = createPerMessageDeflate(takeover, "server");
    await assert.rejects(
      s.decompress(bytes(0xff, 0xff, 0xff, 0xff, 0xff)),
      (e) => e instanceof ProtocolError && e.closeCode === 1007,
    );
    s.close();
    const c = createPerMessageDeflate(takeover, "client");
    const bad = await c.compress(bytes(0x61, 0xff, 0x62));
    c.close();
    const s2 = createPerMessageDeflate(takeover, "server");
    const d = new MessageDecoder({ role: "server", deflate: s2 });
    d.push(concatFrame(encodeFrame(Opcode.Text, bad, { mask: true, rsv1: true })));
    assert.equal(d.next(), DecoderEvent.Compressed);
    assert.equal(await d.inflate(), DecoderEvent.Error);
    assert.equal(d.error?.closeCode, 1007);
    s2.close();
  });

  it("uncompressed messages pass through a decoder with deflate negotiated", () => {
    const s = createPerMessageDeflate(takeover, "server");
    const d = new MessageDecoder({ role: "server", deflate: s });
    d.push(concatFrame(encodeFrame(Opcode.Text, te.encode("plain"), { mask: true })));
    assert.equal(d.next(), DecoderEvent.Text);
    assert.equal(td.decode(d.data), "plain");
    s.close();
  });
});
