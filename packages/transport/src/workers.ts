/**
 * Several processes serving one port, behind one call.
 *
 *   await workers({ count: 4 }, ({ index, reusePort }) => listen({ port: 8080, reusePort }, handlers));
 *
 * - Node: `node:cluster` (works on Node 20, where `reusePort` is missing): the
 *   primary forks `count` workers which listen normally and share the
 *   primary's socket; the kernel spreads accepts (SCHED_NONE, no round-robin
 *   hop through the primary). `reusePort` is false.
 * - Bun, Deno: the primary spawns `count` copies of the main script; each calls
 *   `start` with `reusePort: true`, so each binds its own SO_REUSEPORT socket
 *   (Deno needs Linux; the children get `--unstable-net -A`).
 *
 * In the primary, `start` is not called; the result says which side this is.
 * `env` adds variables to the workers' environment (e.g. the address of a relay
 * the primary runs). Workers on Bun and Deno are plain child processes: each
 * watches its parent and sends itself SIGTERM when the primary is gone (killed
 * with SIGKILL, say), as Node's cluster workers exit when their primary does.
 */
import { type ChildProcess, spawn } from "node:child_process";
import cluster from "node:cluster";
import { runtime } from "./runtime.ts";

export interface WorkersOptions {
  /** Number of worker processes. Default: available parallelism. */
  count?: number;
  /** Start a replacement when a worker exits unexpectedly. Default false. */
  respawn?: boolean;
  /** Extra environment variables for the workers (on top of the primary's environment). */
  env?: Record<string, string>;
}

export interface WorkerInfo {
  index: number;
  /** Pass to `listen({ reusePort })`: true where each worker binds its own socket. */
  reusePort: boolean;
}

export type WorkersResult =
  | { primary: true; pids(): number[]; stop(): Promise<void> }
  | { primary: false; index: number; result: unknown };

const ENV = "WIREHOUSE_WORKER_INDEX";
/** The primary's pid, for Bun and Deno workers to notice it is gone. */
const PRIMARY_ENV = "WIREHOUSE_WORKER_PRIMARY";

/**
 * A spawned worker (Bun, Deno) whose primary died is re-parented: it sends itself
 * SIGTERM, so the app's own handler shuts it down gracefully (or the default
 * action ends it). Polled once a second on an unref'd timer; no cost elsewhere.
 */
function watchPrimary(primaryPid: number): void {
  const proc = (globalThis as { process?: { ppid: number; pid: number; kill(pid: number, sig: string): void } })
    .process;
  if (!proc || !(primaryPid > 0)) return;
  const timer = setInterval(() => {
    if (proc.ppid === primaryPid) return;
    clearInterval(timer);
    try {
      proc.kill(proc.pid, "SIGTERM");
    } catch {}
  }, 1000);
  (timer as { unref?(): void }).unref?.();
}

async function parallelism(): Promise<number> {
  const os = await import("node:os");
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

export async function workers(
  options: WorkersOptions,
  start: (info: WorkerInfo) => unknown | Promise<unknown>,
): Promise<WorkersResult> {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const own = env[ENV];
  if (own !== undefined) {
    const index = Number(own);
    if (runtime !== "node") watchPrimary(Number(env[PRIMARY_ENV]));
    return { primary: false, index, result: await start({ index, reusePort: runtime !== "node" }) };
  }
  const count = options.count ?? (await parallelism());
  let stopping = false;

  if (runtime === "node") {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    const live = new Map<number, import("node:cluster").Worker>();
    const fork = (index: number) => {
      const w = cluster.fork({ ...options.env, [ENV]: String(index) });
      live.set(index, w);
      w.on("exit", () => {
        if (live.get(index) === w) live.delete(index);
        if (!stopping && options.respawn) fork(index);
      });
    };
    for (let i = 0; i < count; i++) fork(i);
    return {
      primary: true,
      pids: () => [...live.values()].map((w) => w.process.pid ?? 0),
      stop: async () => {
        stopping = true;
        await Promise.all(
          [...live.values()].map(
            (w) =>
              new Promise<void>((resolve) => {
                if (w.isDead()) return resolve();
                w.once("exit", () => resolve());
                w.kill();
              }),
          ),
        );
      },
    };
  }

  const proc = (globalThis as { process: { execPath: string; argv: string[]; pid: number } }).process;
  const d = (globalThis as { Deno?: { execPath(): string; mainModule: string; args: string[] } }).Deno;
  const cmd = d ? d.execPath() : proc.execPath;
  const args = d ? ["run", "-A", "--unstable-net", new URL(d.mainModule).pathname, ...d.args] : proc.argv.slice(1);
  const live = new Map<number, ChildProcess>();
  const spawnOne = (index: number) => {
    const child = spawn(cmd, args, {
      stdio: "inherit",
      env: { ...env, ...options.env, [ENV]: String(index), [PRIMARY_ENV]: String(proc.pid) },
    });
    live.set(index, child);
    child.on("exit", () => {
      if (live.get(index) === child) live.delete(index);
      if (!stopping && options.respawn) spawnOne(index);
    });
  };
  for (let i = 0; i < count; i++) spawnOne(i);
  return {
    primary: true,
    pids: () => [...live.values()].map((c) => c.pid ?? 0),
    stop: async () => {
      stopping = true;
      await Promise.all(
        [...live.values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once("exit", () => resolve());
              c.kill();
            }),
        ),
      );
    },
  };
}
