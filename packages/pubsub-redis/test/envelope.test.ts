import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeEnvelope, encodeEnvelope, encodeInstanceId, HEADER_SIZE } from "../src/envelope.ts";

describe("envelope", () => {
  it("round-trips id, epoch, sequence number, kind, compress flag and payload bytes", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 300 }),
        fc.boolean(),
        (id, epoch, seq, binary, payload, compress) => {
          const idBytes = encodeInstanceId(id);
          const bytes = encodeEnvelope(idBytes, epoch, seq, binary, payload, compress);
          assert.equal(bytes.length, HEADER_SIZE + idBytes.length + payload.length);
          const env = decodeEnvelope(bytes);
          assert.ok(env);
          assert.equal(env.instanceId, id);
          assert.equal(env.epoch, epoch);
          assert.equal(env.seq, seq);
          assert.equal(env.binary, binary);
          assert.equal(env.compress, compress);
          assert.deepEqual(env.payload, payload);
        },
      ),
    );
  });

  it("rejects foreign or truncated messages instead of misreading them", () => {
    assert.equal(decodeEnvelope(new TextEncoder().encode('{"json":true}')), null);
    assert.equal(decodeEnvelope(new Uint8Array(0)), null);
    const ok = encodeEnvelope(encodeInstanceId("abc"), 1, 2, false, new Uint8Array([1]));
    assert.equal(decodeEnvelope(ok.subarray(0, HEADER_SIZE + 2)), null);
    assert.ok(decodeEnvelope(ok));
  });

  it("refuses empty and over-long instance ids", () => {
    assert.throws(() => encodeInstanceId(""), RangeError);
    assert.throws(() => encodeInstanceId("x".repeat(256)), RangeError);
  });
});
