/**
 * @module
 * Summaries: latency percentiles from an HDR histogram (hdr-histogram-js) and
 * median / min / max over repeated runs.
 */
import type { Histogram } from "hdr-histogram-js";
import hdr from "hdr-histogram-js";

/** Latencies are recorded in microseconds, up to a minute, with 3 significant digits. */
export function newLatencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** Latencies below this many microseconds are counted in a plain array (see LatencyRecorder). */
const DIRECT_LIMIT = 65_536;

/**
 * Records latencies (µs) on the load generator's hot path: one array increment per value
 * below 65.536 ms (3-6 ns in Bun), instead of an HDR histogram's bucket arithmetic (54-78 ns;
 * the whole generator spends 6-7 µs of CPU per echoed message). Longer latencies go to the
 * histogram at once. `histogram()` hands the same counts to an HDR histogram, whole microseconds each,
 * so percentiles, mean and maximum come out as if every value (floored to a whole microsecond)
 * had been recorded there.
 */
export class LatencyRecorder {
  private counts = new Uint32Array(DIRECT_LIMIT);
  private long = newLatencyHistogram();

  /** One latency in microseconds (below 1 counts as 1). */
  record(us: number): void {
    if (us < DIRECT_LIMIT) this.counts[us < 1 ? 1 : us | 0]!++;
    else this.long.recordValue(Math.floor(us));
  }

  /** Everything recorded so far, as an HDR histogram. */
  histogram(): Histogram {
    const h = newLatencyHistogram();
    h.add(this.long);
    const c = this.counts;
    for (let i = 1; i < DIRECT_LIMIT; i++) if (c[i]! > 0) h.recordValueWithCount(i, c[i]!);
    return h;
  }
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const ms = (us: number) => Math.round(us) / 1000;

/** Percentiles (ms) of a histogram recorded in microseconds. */
export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** A histogram as a compact string (to send from a worker process to the coordinator). */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds encoded histograms into one. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const total = newLatencyHistogram();
  for (const e of encoded) total.add(hdr.decodeFromCompressedBase64(e));
  return total;
}

/** Median, minimum and maximum of repeated figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** The median of an odd count is the middle run; of an even count the mean of the two middle runs. */
export function spread(runs: readonly number[]): Spread {
  if (runs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] };
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: [...runs] };
}
