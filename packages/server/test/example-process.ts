/**
 * Runs one of /examples as a child process (port 0, loopback) and waits for its
 * `ready port=… pid=…` line. By default on the runtime running the test; the
 * browser test starts the same example on each of the three runtimes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export type Runtime = "node" | "deno" | "bun";

const g = globalThis as { Deno?: { execPath(): string }; Bun?: unknown };

/** The runtime running this test. */
export const currentRuntime: Runtime = g.Deno ? "deno" : g.Bun ? "bun" : "node";

/** A runtime's binary: this process's own, else the one npm installed (the `deno` and `bun` devDependencies). */
function binary(runtime: Runtime): string {
  if (runtime === currentRuntime) return g.Deno ? g.Deno.execPath() : process.execPath;
  if (runtime === "node") return "node";
  const local = join(root, "node_modules", ".bin", runtime);
  return existsSync(local) ? local : runtime;
}

function command(file: string, runtime: Runtime): [string, string[]] {
  const path = join(root, "examples", file);
  if (runtime === "deno") return [binary("deno"), ["run", "-A", path]];
  if (runtime === "bun") return [binary("bun"), [path]];
  return [binary("node"), ["--import", "tsx", path]];
}

export interface Running {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<string>;
}

export function startExample(file: string, extra: string[] = [], runtime: Runtime = currentRuntime): Promise<Running> {
  const [cmd, args] = command(file, runtime);
  const child = spawn(cmd, [...args, "--port", "0", "--host", "127.0.0.1", ...extra], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  return new Promise((resolvePromise, reject) => {
    child.stderr?.on("data", (d) => (err += String(d)));
    child.stdout?.on("data", (d) => {
      out += String(d);
      const m = /ready port=(\d+) pid=(\d+)/.exec(out);
      if (m)
        resolvePromise({
          port: Number(m[1]),
          child,
          output: () => out,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
            return out;
          },
        });
    });
    child.on("exit", (code) => reject(new Error(`${file} on ${runtime} exited (${code}) before ready: ${out} ${err}`)));
  });
}
