import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { get } from "./helpers.ts";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "wirehouse.mjs");
const g = globalThis as { Deno?: unknown };

describe("--workers", () => {
  it("two worker processes serve one port; SIGTERM stops them all", { timeout: 60_000 }, async () => {
    // A fixed port is needed (every worker must bind the same one): pick one at random.
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const child = spawn(
      process.execPath,
      [...(g.Deno ? ["run", "-A"] : []), bin, "serve", "--workers", "2", "--port", String(port), "--host", "127.0.0.1"],
      {
        env: { ...process.env, WIREHOUSE_FROM_SOURCE: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<void>((done) => child.on("exit", () => done()));
    try {
      const deadline = Date.now() + 30_000;
      while ((out.match(/\[worker \d, pid \d+\]/g) ?? []).length < 2) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`workers did not start:\n${out}`);
        await new Promise((d) => setTimeout(d, 100));
      }
      assert.match(out, /wirehouse primary \d+: 2 workers/);
      for (let i = 0; i < 4; i++) assert.equal((await get(port, "/")).status, 200);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});
