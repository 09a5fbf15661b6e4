/**
 * What every package's fuzz campaign shares (packages/<name>/fuzz/): the seeded generator that makes a
 * campaign replayable from its seed, and the `--seconds N --seed N` options of its command. Dev-only,
 * web-standard code (no Node APIs), so the pure packages' fuzz engines can use it too.
 */

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same numbers in [0, 1) on every runtime. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fuzz command's options from its arguments: `--seconds N` (default `defaultSeconds`) and `--seed N` (default random). */
export function fuzzOptions(args: readonly string[], defaultSeconds: number): { seconds: number; seed: number } {
  const value = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : undefined;
  };
  const seconds = value("seconds") ?? defaultSeconds;
  const seed = value("seed") ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError("--seconds takes a number of seconds");
  if (!Number.isInteger(seed)) throw new RangeError("--seed takes a whole number");
  return { seconds, seed: seed >>> 0 };
}

/**
 * A campaign's loop: `oneCase(r, index)` for index 0, 1, … with one generator seeded by `seed`
 * (so a seed replays the campaign), until `maxCases` have run or `deadline` (ms since epoch) has
 * passed, reading the clock only every `checkEvery` cases (it costs more than a small case).
 * Stops at the first failure `oneCase` returns; returns how many cases ran.
 */
export function runCases<F>(
  seed: number,
  deadline: number,
  maxCases: number,
  checkEvery: number,
  oneCase: (r: () => number, index: number) => F | null,
): { cases: number; failure: F | null } {
  const r = prng(seed);
  let cases = 0;
  while (cases < maxCases && (cases % checkEvery !== 0 || Date.now() < deadline)) {
    const failure = oneCase(r, cases++);
    if (failure !== null) return { cases, failure };
  }
  return { cases, failure: null };
}
