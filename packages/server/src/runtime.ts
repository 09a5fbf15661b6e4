/**
 * Which JavaScript runtime we are on, detected once at start-up.
 * Used only to pick an implementation, never in a hot path.
 */
import os from "node:os";

export type RuntimeName = "node" | "deno" | "bun";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

export const runtime: RuntimeName = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/** Logical cores available to this process, for default pool sizes (Node 20 has no `navigator`). */
export function coreCount(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency;
  if (typeof n === "number" && n > 0) return n;
  const p = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  return p > 0 ? p : 1;
}
