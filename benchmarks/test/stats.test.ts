import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  encodeHistogram,
  LatencyRecorder,
  mergeHistograms,
  newLatencyHistogram,
  spread,
  summarize,
} from "../src/stats.ts";

describe("latency summary", () => {
  it("reports percentiles in milliseconds from microsecond records", () => {
    const h = newLatencyHistogram();
    for (let us = 1; us <= 1000; us++) h.recordValue(us * 10); // 10 µs .. 10 ms
    const s = summarize(h);
    assert.equal(s.count, 1000);
    assert.ok(Math.abs(s.p50 - 5) < 0.01, `p50 ${s.p50}`);
    assert.ok(Math.abs(s.p99 - 9.9) < 0.02, `p99 ${s.p99}`);
    assert.ok(Math.abs(s.max - 10) < 0.02, `max ${s.max}`);
    assert.ok(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max);
  });

  it("is all zeros for an empty histogram", () => {
    assert.deepEqual(summarize(newLatencyHistogram()), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it("merges histograms encoded by several workers", () => {
    const a = newLatencyHistogram();
    const b = newLatencyHistogram();
    for (let i = 0; i < 100; i++) a.recordValue(100);
    for (let i = 0; i < 100; i++) b.recordValue(300);
    const m = mergeHistograms([encodeHistogram(a), encodeHistogram(b)]);
    assert.equal(m.totalCount, 200);
    assert.ok(Math.abs(summarize(m).max - 0.3) < 0.001);
    assert.ok(Math.abs(summarize(m).mean - 0.2) < 0.001);
  });
});

describe("latency recorder", () => {
  it("gives the histogram that recording each value there gives", () => {
    // Fractional microseconds, values below 1, and values past the recorder's plain array (65.536 ms).
    const value = fc.oneof(
      fc.double({ min: 0, max: 3, noNaN: true }),
      fc.double({ min: 1, max: 70_000, noNaN: true }),
      fc.double({ min: 60_000, max: 5_000_000, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), (values) => {
        const recorder = new LatencyRecorder();
        const direct = newLatencyHistogram();
        for (const v of values) {
          recorder.record(v);
          direct.recordValue(Math.max(Math.floor(v), 1));
        }
        const h = recorder.histogram();
        assert.equal(h.totalCount, values.length);
        assert.deepEqual(summarize(h), summarize(direct));
        assert.equal(encodeHistogram(h), encodeHistogram(direct));
      }),
      { numRuns: 60 },
    );
  });
});

describe("spread", () => {
  it("gives median, min and max of odd and even counts", () => {
    assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, runs: [3, 1, 2] });
    assert.equal(spread([4, 1, 3, 2]).median, 2.5);
    assert.ok(Number.isNaN(spread([]).median));
  });
});
