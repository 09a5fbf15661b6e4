/**
 * Runtime detection, done once at start-up (module load), never in a hot path.
 */
import type { AdapterName } from "./types.ts";

function detect(): AdapterName {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  return "node";
}

/** The runtime this process runs on. */
export const runtime: AdapterName = detect();

/** Adapters that can run here: the native one, plus the Node adapter through Bun's and Deno's node:net. */
export function availableAdapters(): AdapterName[] {
  return runtime === "node" ? ["node"] : [runtime, "node"];
}
