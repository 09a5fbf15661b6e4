/**
 * CPU-time measurement shared by the handshake benchmarks: CPU time
 * (process.cpuUsage, user + system, on all three runtimes) rather than wall
 * time, because the machines are shared and a neighbour's load then costs
 * little.
 */

/** CPU microseconds per call of `fn`, over about `ms` of wall time, in batches of 1,000 calls. */
export function cpuMicrosPerCall(fn: () => void, ms: number): number {
  const batch = 1000;
  let n = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  while (performance.now() - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

/**
 * Median CPU microseconds per call of each function over `runs` rounds of
 * about `ms`, after a 300 ms warm-up each (let the JIT settle); the functions
 * take turns within each round so a noisy neighbour hits them alike.
 */
export function compareCpuMicros(fns: (() => void)[], runs = 7, ms = 200): number[] {
  for (const fn of fns) cpuMicrosPerCall(fn, 300);
  const times = fns.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) for (let i = 0; i < fns.length; i++) times[i]!.push(cpuMicrosPerCall(fns[i]!, ms));
  return times.map((list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!);
}
