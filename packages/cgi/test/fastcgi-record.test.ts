import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeRequest } from "../src/fastcgi-record.ts";
import {
  decodeNameValuePairs,
  encodeAbortRequest,
  encodeBeginRequest,
  encodeEndRequest,
  encodeGetValues,
  encodeGetValuesResult,
  encodeNameValuePairs,
  encodeParams,
  encodeRecord,
  encodeStream,
  encodeUnknownType,
  FCGI,
  FcgiDecoder,
  FcgiProtocolError,
  type FcgiRecord,
} from "../src/index.ts";

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Feeds `bytes` split at `cuts` and returns every record (data copied, since views may alias). */
function decodeChunked(bytes: Uint8Array, cuts: number[]): { records: FcgiRecord[]; error: FcgiProtocolError | null } {
  const d = new FcgiDecoder();
  const records: FcgiRecord[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    const r = d.push(bytes.slice(prev, p));
    for (const rec of r.records) records.push("data" in rec ? { ...rec, data: rec.data.slice() } : rec);
    if (r.error) return { records, error: r.error };
    prev = p;
  }
  return { records, error: null };
}

/** Merges consecutive stream records of one type and id (chunking may split them differently). */
function streams(records: FcgiRecord[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array[]>();
  for (const r of records) {
    if (!("data" in r) || r.type === "other") continue;
    const k = `${r.type}:${r.requestId}`;
    const list = m.get(k) ?? [];
    list.push(r.data);
    m.set(k, list);
  }
  return new Map([...m].map(([k, v]) => [k, concat(v)]));
}

const pair = fc.tuple(fc.string({ maxLength: 200 }), fc.string({ maxLength: 300 }));
const bytes = (max: number) => fc.uint8Array({ maxLength: max });

type Op =
  | { k: "begin"; id: number; role: number; flags: number }
  | { k: "abort"; id: number }
  | { k: "end"; id: number; app: number; proto: number }
  | { k: "stream"; type: number; id: number; data: Uint8Array }
  | { k: "params"; id: number; pairs: Array<[string, string]> }
  | { k: "values"; result: boolean; pairs: Array<[string, string]> };

const id = fc.integer({ min: 1, max: 65535 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant("begin" as const),
    id,
    role: fc.integer({ min: 0, max: 65535 }),
    flags: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ k: fc.constant("abort" as const), id }),
  fc.record({
    k: fc.constant("end" as const),
    id,
    app: fc.nat({ max: 0xffffffff }),
    proto: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    k: fc.constant("stream" as const),
    type: fc.constantFrom(FCGI.STDIN, FCGI.STDOUT, FCGI.STDERR, FCGI.DATA),
    id,
    data: bytes(3000),
  }),
  fc.record({ k: fc.constant("params" as const), id, pairs: fc.array(pair, { maxLength: 6 }) }),
  fc.record({ k: fc.constant("values" as const), result: fc.boolean(), pairs: fc.array(pair, { maxLength: 4 }) }),
);

function encodeOp(o: Op): Uint8Array {
  switch (o.k) {
    case "begin":
      return encodeBeginRequest(o.id, o.role, o.flags);
    case "abort":
      return encodeAbortRequest(o.id);
    case "end":
      return encodeEndRequest(o.id, o.app, o.proto);
    case "stream":
      return encodeStream(o.type, o.id, o.data);
    case "params":
      return encodeParams(o.id, o.pairs);
    case "values":
      return o.result
        ? encodeGetValuesResult(o.pairs)
        : encodeRecord(FCGI.GET_VALUES, 0, encodeNameValuePairs(o.pairs));
  }
}

describe("FastCGI records", () => {
  it("encodes a BEGIN_REQUEST exactly as the spec lays it out", () => {
    assert.deepEqual(
      [...encodeBeginRequest(1, FCGI.RESPONDER, FCGI.KEEP_CONN)],
      [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
    );
  });

  it("pads content to a multiple of 8", () => {
    const r = encodeRecord(FCGI.STDOUT, 7, new Uint8Array(5));
    assert.equal(r.length, 16);
    assert.equal(r[6], 3);
  });

  it("uses 1-byte lengths below 128 and 4-byte lengths from 128", () => {
    const short = encodeNameValuePairs([["A", "b".repeat(127)]]);
    assert.deepEqual([...short.subarray(0, 2)], [1, 127]);
    const long = encodeNameValuePairs([["A", "b".repeat(128)]]);
    assert.deepEqual([...long.subarray(0, 5)], [1, 0x80, 0, 0, 128]);
    assert.deepEqual(decodeNameValuePairs(long), [["A", "b".repeat(128)]]);
  });

  it("splits streams longer than 65535 bytes into several records", () => {
    const data = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const enc = encodeStream(FCGI.STDIN, 3, data);
    const { records, error } = decodeChunked(enc, []);
    assert.equal(error, null);
    assert.ok(records.length >= 4);
    assert.deepEqual(streams(records).get("stdin:3"), data);
  });

  it("decodes GET_VALUES and answers in GET_VALUES_RESULT", () => {
    const d = new FcgiDecoder();
    const q = d.push(encodeGetValues(["FCGI_MPXS_CONNS"])).records;
    assert.deepEqual(q, [{ type: "get-values", requestId: 0, pairs: [["FCGI_MPXS_CONNS", ""]] }]);
    const a = d.push(encodeGetValuesResult([["FCGI_MPXS_CONNS", "0"]])).records;
    assert.deepEqual(a, [{ type: "get-values-result", requestId: 0, pairs: [["FCGI_MPXS_CONNS", "0"]] }]);
  });

  it("reports unknown record types as `other` and encodes UNKNOWN_TYPE", () => {
    const d = new FcgiDecoder();
    const { records } = d.push(concat([encodeRecord(42, 5, new Uint8Array([9])), encodeUnknownType(42)]));
    assert.deepEqual(records[0], { type: "other", recordType: 42, requestId: 5, data: new Uint8Array([9]) });
    assert.deepEqual(records[1], { type: "unknown-type", requestId: 0, unknownType: 42 });
  });

  it("refuses a wrong version, a wrong fixed length and a management record with an id", () => {
    const bad = encodeRecord(FCGI.STDOUT, 1, new Uint8Array(1));
    bad[0] = 2;
    assert.equal(new FcgiDecoder().push(bad).error?.code, "bad-version");
    assert.equal(
      new FcgiDecoder().push(encodeRecord(FCGI.END_REQUEST, 1, new Uint8Array(4))).error?.code,
      "bad-length",
    );
    assert.equal(new FcgiDecoder().push(encodeRecord(FCGI.GET_VALUES, 3)).error?.code, "bad-request-id");
    assert.equal(
      new FcgiDecoder().push(encodeRecord(FCGI.GET_VALUES, 0, new Uint8Array([5, 0]))).error?.code,
      "bad-name-value",
    );
    const d = new FcgiDecoder();
    d.push(bad);
    // Failed stays failed: later good input is ignored.
    assert.equal(d.push(encodeAbortRequest(1)).records.length, 0);
    assert.ok(d.error instanceof FcgiProtocolError);
  });

  it("property: encode → decode is the identity under any chunking", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (ops, cuts) => {
        const wire = concat(ops.map(encodeOp));
        const whole = decodeChunked(wire, []);
        const split = decodeChunked(wire, cuts);
        assert.equal(whole.error, null);
        assert.equal(split.error, null);
        // Fixed records come out in order, identical; streams carry identical bytes.
        const fixed = (rs: FcgiRecord[]) => rs.filter((r) => !("data" in r));
        assert.deepEqual(fixed(split.records), fixed(whole.records));
        assert.deepEqual(streams(split.records), streams(whole.records));
        const expectFixed = ops.filter((o) => o.k === "begin" || o.k === "abort" || o.k === "end" || o.k === "values");
        assert.equal(fixed(whole.records).length, expectFixed.length);
        // Every stream's bytes are exactly what was encoded, in order.
        const expected = new Map<string, Uint8Array[]>();
        const names: Record<number, string> = { 5: "stdin", 6: "stdout", 7: "stderr", 8: "data" };
        for (const o of ops) {
          let key: string;
          let data: Uint8Array;
          if (o.k === "stream") [key, data] = [`${names[o.type]}:${o.id}`, o.data];
          else if (o.k === "params") [key, data] = [`params:${o.id}`, encodeNameValuePairs(o.pairs)];
          else continue;
          const list = expected.get(key) ?? [];
          list.push(data);
          expected.set(key, list);
        }
        assert.deepEqual(streams(whole.records), new Map([...expected].map(([k, v]) => [k, concat(v)])));
      }),
      { numRuns: 300 },
    );
  });

  it("property: name-value pairs round-trip (from an array, a Map or a one-shot iterator alike)", () => {
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 20 }), (pairs) => {
        const encoded = encodeNameValuePairs(pairs);
        assert.deepEqual(decodeNameValuePairs(encoded), pairs);
        function* gen() {
          yield* pairs;
        }
        assert.deepEqual(encodeNameValuePairs(gen()), encoded);
        const unique = [...new Map(pairs)];
        assert.deepEqual(encodeNameValuePairs(new Map(pairs)), encodeNameValuePairs(unique));
      }),
    );
  });

  it("property: a whole request head in one buffer equals its records one by one", () => {
    const body = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      bytes(300),
      fc.integer({ min: 65_520, max: 140_000 }).map((n) => new Uint8Array(n).fill(7)),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        fc.nat(1),
        fc.array(pair, { maxLength: 12 }),
        body,
        (id, flags, pairs, stdin) => {
          const parts = [encodeBeginRequest(id, FCGI.RESPONDER, flags), encodeParams(id, pairs)];
          if (stdin !== undefined) {
            if (stdin !== null && stdin.length > 0) parts.push(encodeStream(FCGI.STDIN, id, stdin));
            parts.push(encodeRecord(FCGI.STDIN, id));
          }
          assert.deepEqual(encodeRequest(id, FCGI.RESPONDER, flags, pairs, stdin), concat(parts));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("property: garbage gives records or a typed error, never a throw or a hang", () => {
    fc.assert(
      fc.property(fc.array(bytes(300), { maxLength: 10 }), (chunks) => {
        const d = new FcgiDecoder();
        for (const c of chunks) {
          const r = d.push(c);
          if (r.error) assert.ok(r.error instanceof FcgiProtocolError);
        }
        assert.ok(decodeNameValuePairs(concat(chunks)) === null || Array.isArray(decodeNameValuePairs(concat(chunks))));
      }),
      { numRuns: 500 },
    );
  });
});
