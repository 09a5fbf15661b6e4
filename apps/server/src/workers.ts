/**
 * `--workers N`: N processes sharing the port through @wirehouse/transport's
 * workers(). Node: node:cluster (workers share the primary's socket, either
 * engine). Bun and Deno: N copies each binding its own SO_REUSEPORT socket,
 * which needs the wirehouse engine (node:http cannot set SO_REUSEPORT there),
 * so workers on those runtimes use it.
 */
import process from "node:process";
import { workers } from "@wirehouse/transport";
import type { App } from "./app.ts";

export interface Primary {
  primary: true;
  pids(): number[];
  stop(): Promise<void>;
}

/** In the primary: forks the workers and relays signals; in a worker: runs `start`. */
export async function runWorkers(
  count: number,
  start: (info: { index: number; reusePort: boolean }) => Promise<App>,
  io: { out: (s: string) => void },
  options: { relay?: boolean } = {},
): Promise<App | Primary> {
  // Node cluster workers get an IPC channel: the primary relays topics between them
  // (structured-clone serialization, so payload bytes cross as bytes).
  let relayed = false;
  const isWorker = process.env.WIREHOUSE_WORKER_INDEX !== undefined;
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (options.relay && !isWorker && !g.Deno && !g.Bun) {
    const [{ default: cluster }, { createIpcRelay }] = await Promise.all([
      import("node:cluster"),
      import("@wirehouse/pubsub-redis"),
    ]);
    cluster.setupPrimary({ serialization: "advanced" });
    const relay = createIpcRelay();
    cluster.on("fork", (w) => relay.add(w));
    cluster.on("exit", (w) => relay.remove(w));
    relayed = true;
  }
  const r = await workers({ count, respawn: true }, start);
  if (!r.primary) return r.result as App;
  io.out(
    `wirehouse primary ${process.pid}: ${count} workers (pids ${r.pids().join(", ")})${relayed ? "; topics relayed between workers" : ""}`,
  );
  const stop = async () => {
    await r.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  try {
    process.on("SIGHUP", () => {
      for (const pid of r.pids()) {
        try {
          process.kill(pid, "SIGHUP");
        } catch {}
      }
    });
  } catch {}
  return { primary: true, pids: () => r.pids(), stop: () => r.stop() };
}
