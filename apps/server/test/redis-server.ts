/**
 * Starts a throw-away redis-server on a free loopback port (no persistence) for a
 * test, and stops it. Fails loudly when the binary is missing: these tests never skip.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface RedisProcess {
  port: number;
  url: string;
  /** SIGKILL, resolves when the process has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function launch(port: number): Promise<ChildProcess> {
  const bin = process.env.REDIS_SERVER ?? "redis-server";
  return new Promise((resolve, reject) => {
    const child = spawn(
      bin,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server did not start on port ${port} within 10 s:\n${out}`));
    }, 10_000);
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === "ENOENT"
          ? new Error(
              `redis-server not found on PATH: these tests need it (Debian: apt-get install -y redis-server; .ci/apt-packages lists it)`,
            )
          : err,
      );
    });
    const onData = (chunk: Uint8Array) => {
      out += chunk.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (c: Uint8Array) => {
      out += c.toString();
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${out}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startRedis(): Promise<RedisProcess> {
  // A port picked by the OS can be taken between close and redis' bind: try a few.
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      let child = await launch(port);
      const r: RedisProcess = {
        port,
        url: `redis://127.0.0.1:${port}`,
        async kill() {
          child.kill("SIGKILL");
          await exited(child);
        },
        async restart() {
          child = await launch(port);
        },
        async stop() {
          child.kill("SIGKILL");
          await exited(child);
        },
      };
      return r;
    } catch (err) {
      lastErr = err;
      if (err instanceof Error && err.message.includes("not found on PATH")) throw err;
    }
  }
  throw lastErr;
}
