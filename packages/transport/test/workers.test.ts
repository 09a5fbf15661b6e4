/**
 * workers(): several processes on one port. Node uses node:cluster (works on
 * Node 20); Bun and Deno spawn copies that bind with SO_REUSEPORT.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { connect, listen, runtime } from "../src/index.ts";
import { deferred, Sink } from "./helpers.ts";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "workers-main.ts");

async function freePort(): Promise<number> {
  const l = await listen({ adapter: "node", port: 0, hostname: "127.0.0.1" }, { data() {} });
  const port = l.port;
  await l.close();
  return port;
}

describe(`workers() on ${runtime}`, () => {
  it("starts two worker processes serving one port, and stops them", async () => {
    const port = await freePort();
    const args =
      runtime === "node"
        ? ["--import", "tsx", fixture]
        : runtime === "bun"
          ? [fixture]
          : ["run", "-A", "--unstable-net", fixture];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, WIREHOUSE_TEST_PORT: String(port) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const lines: string[] = [];
      const twoListening = deferred();
      const stopped = deferred();
      let buffered = "";
      child.stdout!.on("data", (d) => {
        buffered += String(d);
        let nl = buffered.indexOf("\n");
        while (nl >= 0) {
          lines.push(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf("\n");
        }
        if (lines.filter((l) => l.startsWith("listening")).length >= 2) twoListening.resolve();
        if (lines.includes("stopped")) stopped.resolve();
      });
      await twoListening.promise;
      const listening = lines.filter((l) => l.startsWith("listening")).map((l) => l.split(" "));
      const workerPids = new Set(listening.map((p) => p[2]));
      assert.equal(workerPids.size, 2, "two distinct worker processes");
      for (const p of listening) assert.equal(Number(p[3]), port, "every worker on the same port");
      for (const p of listening) assert.equal(p[4], "hello", "the primary's env option reached the worker");

      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const sink = new Sink();
        const closed = deferred();
        await connect(
          { port, hostname: "127.0.0.1" },
          { data: (_c, b) => sink.push(b), close: () => closed.resolve() },
        );
        await closed.promise;
        assert.ok(workerPids.has(sink.text()), `answered by a worker (${sink.text()})`);
        seen.add(sink.text());
      }
      assert.ok(seen.size >= 1);
      child.stdin!.write("stop\n");
      await stopped.promise;
      assert.equal(await exited, 0);
    } finally {
      child.kill();
      await exited;
    }
  });
  it("workers end when the primary is killed (SIGKILL)", async () => {
    const port = await freePort();
    const args =
      runtime === "node"
        ? ["--import", "tsx", fixture]
        : runtime === "bun"
          ? [fixture]
          : ["run", "-A", "--unstable-net", fixture];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, WIREHOUSE_TEST_PORT: String(port) },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    let pids: number[] = [];
    try {
      const twoListening = deferred();
      let out = "";
      child.stdout!.on("data", (d) => {
        out += String(d);
        const found = [...out.matchAll(/^listening \d+ (\d+) /gm)].map((m) => Number(m[1]));
        if (found.length >= 2) {
          pids = found;
          twoListening.resolve();
        }
      });
      await twoListening.promise;
      child.kill("SIGKILL");
      await exited;
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 10_000;
      while (pids.some(alive)) {
        if (Date.now() > deadline) throw new Error(`workers ${pids.filter(alive).join(", ")} outlived their primary`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill("SIGKILL");
      for (const pid of pids)
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
    }
  });
});
