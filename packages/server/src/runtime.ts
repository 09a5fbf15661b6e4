/**
 * Which JavaScript runtime we are on, detected once at start-up.
 * Used only to pick an implementation, never in a hot path.
 */
export type RuntimeName = "node" | "deno" | "bun";

const g = globalThis as { Bun?: unknown; Deno?: unknown };

export const runtime: RuntimeName = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/** Logical cores, for default pool sizes. */
export function coreCount(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency;
  return typeof n === "number" && n > 0 ? n : 1;
}
