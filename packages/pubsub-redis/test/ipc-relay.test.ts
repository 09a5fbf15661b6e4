import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createIpcRelay } from "../src/index.ts";

const worker = fileURLToPath(new URL("./fixtures/ipc-worker.ts", import.meta.url));
const runtime = process.env.WIREHOUSE_TEST_RUNTIME ?? "node";

function next(child: ChildProcess, pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("worker did not answer in 15 s")), 15_000);
    const on = (m: unknown) => {
      if (typeof m === "object" && m !== null && pred(m as Record<string, unknown>)) {
        clearTimeout(t);
        child.off("message", on);
        resolve(m as Record<string, unknown>);
      }
    };
    child.on("message", on);
  });
}

describe("in-host IPC relay (no Redis)", () => {
  it("three forked workers: each gets the others' messages once, in order, never its own", async () => {
    const relay = createIpcRelay();
    const names = ["w0", "w1", "w2"];
    const execArgv = runtime === "node" ? ["--import", "tsx"] : [];
    const children = names.map((name) => fork(worker, [name], { serialization: "advanced", execArgv }));
    try {
      for (const c of children) relay.add(c);
      await Promise.all(children.map((c) => next(c, (m) => "ready" in m)));
      // "ready" is sent after the subscribe message on the same ordered channel.
      assert.equal(relay.count("t"), 3);
      const n = 1000;
      for (const c of children) c.send({ cmd: "publish", n });
      // Each worker expects 2n text + 2 binary; poll its report (the relay is asynchronous by nature).
      const deadline = Date.now() + 15_000;
      for (const [k, c] of children.entries()) {
        let report: Record<string, unknown>;
        do {
          const r = next(c, (m) => "report" in m);
          c.send({ cmd: "report" });
          report = await r;
          if ((report.report as string[]).length >= 2 * n && report.binaries === 2) break;
          await new Promise((r) => setTimeout(r, 20));
        } while (Date.now() < deadline);
        const got = report.report as string[];
        assert.equal(got.length, 2 * n, `${names[k]} got ${got.length}`);
        assert.equal(report.binaries, 2);
        const seen = new Map<string, number>();
        for (const g of got) {
          const [who, i] = g.split(":");
          assert.notEqual(who, names[k], "own message echoed");
          assert.equal(Number(i), (seen.get(who!) ?? -1) + 1, `order from ${who}`);
          seen.set(who!, Number(i));
        }
      }
      assert.equal(relay.stats.relayed, 3 * 2 * (n + 1));
    } finally {
      for (const c of children) {
        relay.remove(c);
        const exited = new Promise((r) => c.once("exit", r));
        c.send({ cmd: "exit" });
        await exited;
      }
    }
  });
});
