/**
 * `--workers N`: N processes sharing the port through @wirehouse/transport's
 * workers(). Node: node:cluster (workers share the primary's socket). Bun and
 * Deno: N copies each binding its own SO_REUSEPORT socket. Without Redis the
 * primary runs the in-host relay (a loopback socket) for topics.
 */
import process from "node:process";
import type { SocketRelay } from "@wirehouse/pubsub-redis";
import { workers } from "@wirehouse/transport";
import type { App } from "./app.ts";
import { RELAY_ENV } from "./pubsub.ts";

export interface Primary {
  primary: true;
  pids(): number[];
  stop(): Promise<void>;
  /** The in-host relay (without Redis). */
  relay?: SocketRelay;
}

/** In the primary: forks the workers and relays signals; in a worker: runs `start`. */
export async function runWorkers(
  count: number,
  start: (info: { index: number; reusePort: boolean }) => Promise<App>,
  io: { out: (s: string) => void },
  options: { relay?: boolean } = {},
): Promise<App | Primary> {
  // Without Redis the primary relays topics between the workers: it listens on a
  // loopback socket and hands its address (with a random token) to the workers in
  // the environment they inherit. Works the same on Node, Deno and Bun.
  let relay: SocketRelay | undefined;
  const isWorker = process.env.WIREHOUSE_WORKER_INDEX !== undefined;
  if (options.relay && !isWorker) {
    const { createSocketRelay } = await import("@wirehouse/pubsub-redis");
    relay = await createSocketRelay();
    process.env[RELAY_ENV] = relay.address;
  }
  const r = await workers({ count, respawn: true }, start);
  if (!r.primary) return r.result as App;
  io.out(
    `wirehouse primary ${process.pid}: ${count} workers (pids ${r.pids().join(", ")})${relay ? `; topics relayed between workers (in-host relay on 127.0.0.1:${relay.port})` : ""}`,
  );
  const stopAll = async () => {
    await r.stop();
    await relay?.close();
  };
  const stop = async () => {
    await stopAll();
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
  return { primary: true, pids: () => r.pids(), stop: stopAll, ...(relay ? { relay } : {}) };
}
