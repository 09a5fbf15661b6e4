import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  buildClientFrame,
  buildServerFrame,
  clientHeaderLength,
  countWhole,
  DEFAULT_MASK,
  FrameReader,
  makePayload,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_TEXT,
  repeatFrame,
} from "../src/frames.ts";

/** Decodes a masked client frame the way a server would (RFC 6455 §5.2, §5.3). */
function decodeClientFrame(frame: Uint8Array) {
  const fin = (frame[0]! & 0x80) !== 0;
  const opcode = frame[0]! & 0x0f;
  assert.equal(frame[1]! & 0x80, 0x80, "client frames are masked");
  let length = frame[1]! & 0x7f;
  let at = 2;
  if (length === 126) {
    length = (frame[2]! << 8) | frame[3]!;
    at = 4;
  } else if (length === 127) {
    length = Number(new DataView(frame.buffer, frame.byteOffset).getBigUint64(2));
    at = 10;
  }
  const mask = frame.subarray(at, at + 4);
  at += 4;
  const payload = frame.slice(at, at + length);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  return { fin, opcode, length, payload, total: at + length };
}

describe("buildClientFrame", () => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    it(`frames ${size} bytes with the right header and masked payload`, () => {
      const payload = makePayload(size);
      const frame = buildClientFrame(payload, OP_TEXT);
      assert.equal(frame.length, clientHeaderLength(size) + size);
      const d = decodeClientFrame(frame);
      assert.equal(d.fin, true);
      assert.equal(d.opcode, OP_TEXT);
      assert.equal(d.length, size);
      assert.equal(d.total, frame.length);
      assert.deepEqual(d.payload, payload);
    });
  }

  it("masks with the given key", () => {
    const frame = buildClientFrame(new Uint8Array([0, 0, 0, 0, 0]), OP_BINARY, DEFAULT_MASK);
    assert.deepEqual([...frame.subarray(2, 6)], [...DEFAULT_MASK]);
    assert.deepEqual([...frame.subarray(6)], [...DEFAULT_MASK, DEFAULT_MASK[0]!]);
  });

  it("repeats a frame back to back", () => {
    const frame = buildClientFrame(makePayload(3));
    const many = repeatFrame(frame, 3);
    assert.equal(many.length, frame.length * 3);
    assert.deepEqual(many.subarray(frame.length * 2), frame);
  });

  it("makes text payloads that are valid UTF-8", () => {
    const p = makePayload(100);
    assert.equal(new TextDecoder("utf-8", { fatal: true }).decode(p).length, 100);
  });
});

describe("FrameReader", () => {
  it("counts whole messages and reports how many each chunk completed", () => {
    const r = new FrameReader();
    const a = buildServerFrame(makePayload(10), OP_TEXT);
    const b = buildServerFrame(makePayload(300), OP_BINARY);
    const both = new Uint8Array([...a, ...b]);
    assert.equal(r.push(both.subarray(0, 5)), 0);
    assert.equal(r.push(both.subarray(5, a.length + 3)), 1);
    assert.equal(r.push(both.subarray(a.length + 3)), 1);
    assert.equal(r.messages, 2);
  });

  it("reads 16-bit and 64-bit lengths and empty frames", () => {
    const r = new FrameReader();
    const frames = [
      buildServerFrame(new Uint8Array(0)),
      buildServerFrame(makePayload(65535)),
      buildServerFrame(makePayload(70000)),
    ];
    for (const f of frames) assert.equal(r.push(f), 1);
    assert.equal(r.messages, 3);
  });

  it("counts a fragmented message once and control frames apart", () => {
    const r = new FrameReader();
    const parts = [
      buildServerFrame(makePayload(5), OP_TEXT, false),
      buildServerFrame(new Uint8Array([1, 2]), OP_PING),
      buildServerFrame(makePayload(5), OP_CONTINUATION, false),
      buildServerFrame(makePayload(5), OP_CONTINUATION, true),
      buildServerFrame(new Uint8Array([3, 232]), OP_CLOSE),
    ];
    let completed = 0;
    for (const p of parts) completed += r.push(p);
    assert.equal(completed, 1);
    assert.equal(r.frames, 3);
    assert.equal(r.controls, 2);
    assert.equal(r.pinged, true);
    assert.equal(r.closed, true);
  });

  it("honours the end index of a shared read buffer", () => {
    const r = new FrameReader();
    const f = buildServerFrame(makePayload(20));
    const buf = new Uint8Array(100).fill(0xff);
    buf.set(f);
    assert.equal(r.push(buf, f.length), 1);
    assert.equal(r.messages, 1);
  });

  it("hands the first bytes of each message to onPrefix, even when split across reads", () => {
    const seen: number[] = [];
    const r = new FrameReader(8, (v) => seen.push(v.getFloat64(0)));
    const payload = (x: number) => {
      const p = new Uint8Array(20);
      new DataView(p.buffer).setFloat64(0, x);
      return p;
    };
    const bytes = new Uint8Array([...buildServerFrame(payload(1.5)), ...buildServerFrame(payload(123456789.25))]);
    for (let i = 0; i < bytes.length; i++) r.push(bytes.subarray(i, i + 1));
    assert.deepEqual(seen, [1.5, 123456789.25]);
  });

  it("counts the same messages however the stream is cut (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 70_000 }), fin: fc.boolean(), ping: fc.boolean() }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
        (specs, cuts) => {
          const chunks: Uint8Array[] = [];
          let expected = 0;
          let inMessage = false;
          for (const s of specs) {
            if (s.ping) chunks.push(buildServerFrame(new Uint8Array(3), OP_PING));
            chunks.push(buildServerFrame(makePayload(s.size), inMessage ? OP_CONTINUATION : OP_BINARY, s.fin));
            inMessage = !s.fin;
            if (s.fin) expected++;
          }
          const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
          let at = 0;
          for (const c of chunks) {
            all.set(c, at);
            at += c.length;
          }
          const r = new FrameReader();
          let i = 0;
          let k = 0;
          let counted = 0;
          while (i < all.length) {
            const step = cuts[k++ % cuts.length]!;
            counted += r.push(all.subarray(i, Math.min(all.length, i + step)));
            i += step;
          }
          assert.equal(counted, expected);
          assert.equal(r.messages, expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("countWhole (the echo and broadcast fast path)", () => {
  it("counts whole copies of a frame and refuses anything else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 5 }), (size, m) => {
        const frame = buildServerFrame(makePayload(size), OP_TEXT);
        const chunk = repeatFrame(frame, m);
        assert.equal(countWhole(chunk, chunk.length, frame), m);
        // A split read, another header, or an empty read goes to the general reader.
        assert.equal(countWhole(chunk, chunk.length - 1, frame), -1);
        const other = chunk.slice();
        other[0] = 0x82;
        assert.equal(countWhole(other, other.length, frame), -1);
        assert.equal(countWhole(chunk, 0, frame), -1);
      }),
    );
  });

  it("agrees with FrameReader on whole reads", () => {
    const frame = buildServerFrame(makePayload(200), OP_BINARY); // 2-byte extended length
    const chunk = repeatFrame(frame, 3);
    const r = new FrameReader();
    assert.ok(r.idle());
    assert.equal(r.push(chunk), countWhole(chunk, chunk.length, frame));
    assert.ok(r.idle());
    r.push(chunk.subarray(0, 5));
    assert.equal(r.idle(), false);
  });
});
