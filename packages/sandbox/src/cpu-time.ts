/**
 * @module
 * The process's CPU time, for the scripts' CPU budgets (page renders and
 * websocket-script runs alike).
 */

/** CPU time of this process in µs (user + system), where the runtime tells it (Node, Deno and Bun do). */
export const cpuMicros: (() => number) | undefined = (() => {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (typeof p?.cpuUsage !== "function") return undefined;
  return () => {
    const u = p.cpuUsage!();
    return u.user + u.system;
  };
})();

let sample = 0;
let sampleAt = Number.NEGATIVE_INFINITY;

/**
 * The CPU time a run's budget starts from, read afresh only when the last
 * reading is older than `maxAgeMs`. Reading it is a system call (getrusage)
 * that cost 10–40 µs in a loaded server (about 9% of a page request), and
 * under load a run starts every millisecond or less. A run may so be charged
 * up to `maxAgeMs` of CPU time from before it started, which only errs towards
 * interrupting earlier, and never before its wall-clock budget has passed.
 * Call only where {@link cpuMicros} is defined.
 */
export function recentCpuMicros(now: number, maxAgeMs: number): number {
  if (now - sampleAt > maxAgeMs || now < sampleAt) {
    sample = cpuMicros!();
    sampleAt = now;
  }
  return sample;
}
