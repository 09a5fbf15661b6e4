// The load generator is a Node program (node:net, child processes, taskset); these tests run it as one
// (`node --import tsx src/loadgen.ts`) against the ws peer server on loopback, under every runtime.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { EXPECTED_ACCEPT } from "../src/handshake.ts";
import { findBun, parseCpuList, pickRuntime, readRss, shares, sourceAddresses } from "../src/loadgen.ts";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("loadgen helpers", () => {
  it("expands taskset CPU lists", () => {
    assert.deepEqual(parseCpuList("1"), [1]);
    assert.deepEqual(parseCpuList("0,2-4"), [0, 2, 3, 4]);
    assert.throws(() => parseCpuList("x"));
  });

  it("splits connections into near-equal shares", () => {
    assert.deepEqual(shares(10, 3), [4, 3, 3]);
    assert.deepEqual(shares(2, 4), [1, 1, 0, 0]);
  });

  it("spreads many connections over source addresses in 127.0.0.0/8, not 127.0.0.x", () => {
    const a = sourceAddresses("127.0.0.1", 70_000); // one address per 30,000 connections
    assert.equal(a.length, 3);
    for (const x of a) assert.match(x, /^127\.(\d+)\.(\d+)\.(\d+)$/);
    assert.notEqual(a[0]!.split(".")[1], "0");
    assert.equal(new Set(a).size, 3);
    assert.deepEqual(sourceAddresses("10.0.0.1", 50_000), []);
    assert.deepEqual(sourceAddresses("127.0.0.1", 10, 0), []);
  });

  it("runs workers on Bun where messages are counted, on Node where connections are", () => {
    const bun = findBun();
    assert.equal(pickRuntime("connect", "auto"), "node");
    assert.equal(pickRuntime("idle", "auto"), "node");
    assert.equal(pickRuntime("echo", "auto"), bun ? "bun" : "node");
    assert.equal(pickRuntime("broadcast", "auto"), bun ? "bun" : "node");
    assert.equal(pickRuntime("echo", "node"), "node");
    if (bun) assert.equal(pickRuntime("connect", "bun"), "bun");
    else assert.throws(() => pickRuntime("connect", "bun"), /no bun binary/);
  });

  it("reads a process's RSS from /proc", () => {
    assert.ok(readRss(process.pid) > 1 << 20);
  });
});

/** Runs a command; resolves with stdout (rejects on a non-zero exit). Bounded by a timer. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    const t = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`exit ${code}: ${err}`));
    });
  });
}

/** Runs the load generator with `--json` and parses what it prints. */
async function loadgenJson(args: string[]) {
  return JSON.parse(await run("node", ["--import", "tsx", "src/loadgen.ts", ...args, "--json"]));
}

describe("loadgen end to end against the ws peer on loopback", () => {
  let server: ChildProcess;
  let port = 0;
  let pid = 0;

  before(async () => {
    server = spawn("node", [join(dir, "servers", "ws.mjs"), "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      server.stdout!.on("data", (d) => {
        out += d;
        const m = /ready port=(\d+) pid=(\d+)/.exec(out);
        if (m) {
          port = Number(m[1]);
          pid = Number(m[2]);
          resolve();
        }
      });
      server.on("exit", () => reject(new Error("ws peer server exited")));
    });
  });

  after(async () => {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  });

  const loadgen = (args: string[]) => loadgenJson([...args, "--workers", "2"]);

  it("echo: every connection opens, messages flow, latency percentiles are reported", async () => {
    const r = await loadgen([
      "echo",
      "--url",
      `ws://127.0.0.1:${port}/`,
      "--connections",
      "4",
      "--seconds",
      "1",
      "--warmup",
      "0.2",
      "--in-flight",
      "2",
    ]);
    assert.equal(r.opened, 4);
    assert.equal(r.workers, 2);
    assert.ok(r.messages > 0, "echoed messages");
    assert.equal(r.latency.count, r.messages);
    assert.ok(r.latency.p50 > 0 && r.latency.p50 <= r.latency.p99);
    assert.ok(r.messagesPerSecond > 0);
    assert.equal(r.errors, 0);
  });

  for (const runtime of ["node", ...(findBun() ? ["bun"] : [])]) {
    it(`echo with ${runtime} workers: 32 B text and 16 KiB binary, latency recorded per message`, async () => {
      for (const size of ["32", "16384"]) {
        const r = await loadgen([
          "echo",
          "--url",
          `ws://127.0.0.1:${port}/`,
          "--connections",
          "3",
          "--size",
          size,
          "--seconds",
          "0.5",
          "--warmup",
          "0.1",
          "--runtime",
          runtime,
        ]);
        assert.equal(r.loadRuntime, runtime);
        assert.equal(r.opened, 3);
        assert.ok(r.messages > 0, `${size} B echoed`);
        assert.equal(r.latency.count, r.messages);
        assert.equal(r.errors, 0);
        assert.ok(r.loadCpuMaxWorker > 0 && r.loadCpuMaxWorker <= 200);
      }
    });

    it(`connect with ${runtime} workers from an explicit source address`, async () => {
      const r = await loadgen([
        "connect",
        "--url",
        `ws://127.0.0.1:${port}/`,
        "--connections",
        "30",
        "--sources",
        "1",
        "--hold",
        "0",
        "--runtime",
        runtime,
      ]);
      assert.equal(r.loadRuntime, runtime);
      assert.equal(r.opened, 30);
      assert.equal(r.failed, 0);
    });
  }

  it("broadcast: subscribers receive the publisher's timestamped messages", async () => {
    const r = await loadgen([
      "broadcast",
      "--url",
      `ws://127.0.0.1:${port}/broadcast`,
      "--connections",
      "3",
      "--seconds",
      "1",
      "--warmup",
      "0.2",
    ]);
    assert.ok(r.published > 0);
    assert.ok(r.messages >= r.published, `each of 3 subscribers gets each message (${r.messages} for ${r.published})`);
    assert.ok(r.latency.count === r.messages && r.latency.p50 > 0);
  });

  it("connect: opens and holds connections, reports rate and the server's RSS", async () => {
    const r = await loadgen([
      "connect",
      "--url",
      `ws://127.0.0.1:${port}/`,
      "--connections",
      "50",
      "--connect-in-flight",
      "10",
      "--pid",
      String(pid),
      "--hold",
      "0.3",
    ]);
    assert.equal(r.opened, 50);
    assert.ok(r.connectionsPerSecond > 0);
    assert.ok(r.rssBefore > 0 && r.rssAfter > 0);
    assert.equal(typeof r.bytesPerConnection, "number");
  });

  it("idle: holds the connections and reports the server's memory per connection", async () => {
    const r = await loadgen([
      "idle",
      "--url",
      `ws://127.0.0.1:${port}/`,
      "--connections",
      "20",
      "--pid",
      String(pid),
      "--hold",
      "0.3",
    ]);
    assert.equal(r.mode, "idle");
    assert.equal(r.opened, 20);
    assert.equal(typeof r.bytesPerConnection, "number");
    assert.ok(r.rssAfter > 0);
  });

  it("counts refused connections as failures", async () => {
    const r = await loadgenJson(["connect", "--url", "ws://127.0.0.1:1/", "--connections", "2"]);
    assert.equal(r.opened, 0);
    assert.equal(r.failed, 2);
    assert.match(r.firstError, /ECONNREFUSED/);
  });
});

describe("HTTP load end to end against the node:http peer on loopback", () => {
  it("autocannon as a library in a child process: requests/s, latency, no errors", async () => {
    const server = spawn("node", [join(dir, "servers", "node-http.mjs"), "--port", "0"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        server.stdout!.on("data", (d) => {
          out += d;
          const m = /ready port=(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        server.on("exit", () => reject(new Error("node:http peer exited")));
      });
      const out = await run("node", [
        "--import",
        "tsx",
        "src/httpload.ts",
        "--url",
        `http://127.0.0.1:${port}/4k`,
        "--connections",
        "4",
        "--seconds",
        "1",
      ]);
      const r = JSON.parse(out.trim().split("\n").pop()!);
      assert.equal(r.tool, "autocannon");
      assert.ok(r.requests > 0 && r.requestsPerSecond > 0);
      assert.ok(r.bytesPerSecond >= r.requestsPerSecond * 4096 * 0.9, "4 KiB bodies");
      assert.equal(r.errors, 0);
    } finally {
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
  });
});

describe("loadgen connect mode warms up on its own stub", () => {
  it("the server under test sees exactly the planned connections, none of the warm-up's", async () => {
    // A minimal server that answers every request head with a valid 101 and counts what it accepts.
    const response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${EXPECTED_ACCEPT}\r\n\r\n`;
    let accepted = 0;
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      accepted++;
      sockets.add(s);
      s.on("data", () => s.write(response));
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await loadgenJson([
        "connect",
        "--url",
        `ws://127.0.0.1:${port}/`,
        "--connections",
        "40",
        "--hold",
        "0",
        "--workers",
        "2",
      ]);
      assert.equal(r.opened, 40);
      assert.equal(accepted, 40, "warm-up connections went to the generator's own stub");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
