import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createServer } from "../src/index.ts";
import { Limiter } from "../src/limiter.ts";
import { wsClient } from "./helpers.ts";

describe("zlib concurrency cap", () => {
  it("Limiter runs at most max tasks at once, in call order, and survives failures", async () => {
    const limiter = new Limiter(2);
    let peak = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      limiter.run(async () => {
        started.push(i);
        peak = Math.max(peak, limiter.active);
        await new Promise<void>((r) => releases.push(r));
        if (i === 3) throw new Error("task 3 fails");
        return i;
      }),
    );
    for (const t of tasks) t.catch(() => {}); // inspected below with allSettled
    assert.deepEqual(started, [0, 1]);
    assert.equal(limiter.waiting, 4);
    while (started.length < 6 || releases.length > 0) {
      const r = releases.shift();
      if (r) r();
      await new Promise((res) => setImmediate(res));
    }
    const results = await Promise.allSettled(tasks);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
    assert.equal(peak, 2);
    assert.equal(results[3]?.status, "rejected");
    assert.deepEqual(
      results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<number>).value),
      [0, 1, 2, 4, 5],
    );
  });

  it("an endpoint with deflate maxConcurrency 1 still echoes every client in order", async () => {
    const server = createServer();
    server.websocket(
      "/z",
      {
        message(ws, data, binary) {
          ws.send(data, { binary });
        },
      },
      { deflate: { threshold: 0, maxConcurrency: 1 } },
    );
    const { port } = await server.listen({ port: 0 });
    try {
      const clients = await Promise.all([1, 2, 3].map(() => wsClient(`ws://127.0.0.1:${port}/z`, { deflate: true })));
      for (const [i, c] of clients.entries())
        for (let k = 0; k < 5; k++) c.send(`client ${i} message ${k} `.repeat(50));
      for (const [i, c] of clients.entries()) {
        assert.match(c.extensions(), /permessage-deflate/);
        for (let k = 0; k < 5; k++) assert.equal((await c.next()).data, `client ${i} message ${k} `.repeat(50));
        c.close();
      }
    } finally {
      await server.close({ deadline: 500 });
    }
  });
});
