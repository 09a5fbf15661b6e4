import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { AppStatus } from "../src/status.ts";
import { Client, get } from "./helpers.ts";
import { freePort, startRedis } from "./redis-server.ts";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "wirehouse.mjs");
const workersSite = join(here, "fixtures", "workers-site", "settings.js");
const g = globalThis as { Deno?: unknown; Bun?: unknown };

/** Runs `wirehouse serve --workers 2 …extra` on a random port until both workers are up; `use` gets the port and the output so far. */
async function withWorkers(extra: string[], use: (port: number, out: () => string) => Promise<void>): Promise<void> {
  // A fixed port is needed (every worker must bind the same one): one the OS just had free.
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(g.Deno ? ["run", "-A"] : []),
      bin,
      "serve",
      "--workers",
      "2",
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      ...extra,
    ],
    { env: { ...process.env, WIREHOUSE_FROM_SOURCE: "1" }, stdio: ["ignore", "pipe", "pipe"] },
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
    await use(port, () => out);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

/**
 * Chat clients on two different workers: clients connect until one's own join message says
 * "(1 here)" while the first is still connected (so it landed on the other worker). A message
 * from it reaches the first client exactly once.
 */
async function acrossWorkers(port: number): Promise<void> {
  const clients: Client[] = [];
  try {
    const open = async (name: string) => {
      const c = new Client(`ws://127.0.0.1:${port}/chat?name=${name}`);
      clients.push(c);
      await c.opened;
      return { c, here: await c.nextMatching(new RegExp(`^\\* ${name} joined`)) };
    };
    const first = await open("c0");
    assert.equal(first.here, "* c0 joined (1 here)");
    let other: Client | undefined;
    let name = "";
    for (let i = 1; i < 24 && !other; i++) {
      const next = await open(`c${i}`);
      if (next.here.endsWith("(1 here)")) {
        other = next.c;
        name = `c${i}`;
      }
    }
    assert.ok(other, "no client landed on the second worker in 23 tries");
    // The other worker's join reached c0 through the relay.
    await first.c.nextMatching(new RegExp(`^\\* ${name} joined \\(1 here\\)$`));
    other.ws.send("one");
    other.ws.send("two");
    assert.equal(await first.c.nextMatching(new RegExp(`^${name}: `)), `${name}: one`);
    assert.equal(await first.c.nextMatching(new RegExp(`^${name}: `)), `${name}: two`);
    first.c.ws.send("back");
    assert.equal(await other.nextMatching(/^c0: /), "c0: back");
    // Exactly once: the next message of that sender is the next one sent.
    other.ws.send("three");
    assert.equal(await first.c.nextMatching(new RegExp(`^${name}: `)), `${name}: three`);
  } finally {
    for (const c of clients) c.ws.terminate();
  }
}

/**
 * Two /where clients on different workers (each learns its worker's client count on
 * connect): 60 messages alternating text and binary from one reach the other exactly
 * once, in order, with their type and bytes; and back.
 */
async function binaryAcrossWorkers(port: number): Promise<void> {
  const clients: Client[] = [];
  try {
    const open = async () => {
      const c = new Client(`ws://127.0.0.1:${port}/where`);
      clients.push(c);
      await c.opened;
      return { c, here: await c.nextMatching(/^here \d+$/) };
    };
    const first = await open();
    assert.equal(first.here, "here 1");
    let other: Client | undefined;
    for (let i = 1; i < 24 && !other; i++) {
      const next = await open();
      if (next.here === "here 1") other = next.c;
    }
    assert.ok(other, "no /where client landed on the second worker in 23 tries");
    const payload = (i: number) => new Uint8Array([i, 0, 255, 0xc3, 0x28, 0xfe]); // not UTF-8
    for (let i = 0; i < 60; i++) other.ws.send(i % 2 ? payload(i) : `t${i} ✓`);
    for (let i = 0; i < 60; i++) {
      const m = await first.c.next();
      if (i % 2) {
        assert.equal(m.binary, true, `message ${i} binary`);
        assert.deepEqual([...(m.data as Buffer)], [...payload(i)], `message ${i} bytes`);
      } else assert.deepEqual(m, { data: `t${i} ✓`, binary: false }, `message ${i}`);
    }
    first.c.ws.send(payload(200));
    const back = await other.next();
    assert.equal(back.binary, true);
    assert.deepEqual([...(back.data as Buffer)], [...payload(200)]);
  } finally {
    for (const c of clients) c.ws.terminate();
  }
}

/** Runs `use` while exactly one /where client is connected on each of the two workers. */
async function whereOnBoth(port: number, use: () => Promise<void>): Promise<void> {
  const keep: Client[] = [];
  const extra: Client[] = [];
  try {
    const first = new Client(`ws://127.0.0.1:${port}/where`);
    keep.push(first);
    await first.opened;
    assert.equal(await first.nextMatching(/^here \d+$/), "here 1");
    for (let i = 0; i < 23 && keep.length < 2; i++) {
      const c = new Client(`ws://127.0.0.1:${port}/where`);
      await c.opened;
      if ((await c.nextMatching(/^here \d+$/)) === "here 1") keep.push(c);
      else extra.push(c);
    }
    assert.equal(keep.length, 2, "no /where client landed on the second worker in 23 tries");
    await Promise.all(extra.map((c) => c.close()));
    await use();
  } finally {
    for (const c of [...keep, ...extra]) c.ws.terminate();
  }
}

describe("--workers", () => {
  it("two worker processes serve one port; SIGTERM stops them all", { timeout: 60_000 }, async () => {
    // A fixed port is needed (every worker must bind the same one): one the OS just had free.
    const port = await freePort();
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

  it("without Redis, the primary relays websocket-script broadcasts between the workers (in-host relay): once, in order, text and binary", {
    timeout: 60_000,
  }, async () => {
    await withWorkers(["--config", workersSite, "--status", "/_status"], async (port, out) => {
      assert.match(
        out(),
        /2 workers \(pids [\d, ]+\); topics relayed between workers \(in-host relay on 127\.0\.0\.1:\d+\)/,
      );
      assert.equal((out().match(/pubsub: in-host relay via the primary \(127\.0\.0\.1:\d+\)/g) ?? []).length, 2);
      await acrossWorkers(port);
      await binaryAcrossWorkers(port);
      // The status (of whichever worker answers) shows the relay's counters.
      const st = JSON.parse((await get(port, "/_status")).body) as AppStatus;
      assert.equal(st.pubsub.kind, "relay");
      assert.equal(st.pubsub.connected, true);
      assert.ok(st.worker === 0 || st.worker === 1);
      assert.ok((st.pubsub.stats?.published ?? 0) >= 1, JSON.stringify(st));
      assert.equal(st.pubsub.stats?.droppedWhileDisconnected, 0);
      // Presence across the workers, through the relay: one /where client is kept open on each.
      await whereOnBoth(port, async () => {
        const where = (x: AppStatus) => x.topics.find((t) => t.path === "/where");
        const deadline = Date.now() + 10_000;
        for (;;) {
          const x = JSON.parse((await get(port, "/_status")).body) as AppStatus;
          if (where(x)?.total === 2 && where(x)?.instances === 2 && where(x)?.clients === 1) break;
          if (Date.now() > deadline) throw new Error(`presence not 2 on 2 workers: ${JSON.stringify(x)}`);
          await new Promise((d) => setTimeout(d, 20));
        }
      });
      assert.doesNotMatch(out(), /lost the connection to the in-host relay|cannot reach the in-host relay/);
    });
  });

  it("with --redis, websocket-script broadcasts reach the clients of every worker", { timeout: 60_000 }, async () => {
    const redis = await startRedis();
    try {
      await withWorkers(["--redis", redis.url], async (port, out) => {
        assert.equal((out().match(/pubsub: Redis redis:\/\/127\.0\.0\.1:\d+/g) ?? []).length, 2);
        await acrossWorkers(port);
      });
    } finally {
      await redis.stop();
    }
  });
});
