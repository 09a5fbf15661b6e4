import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nginxConfig } from "../src/nginx.ts";
import { type ServerSpec, serverCommand, serverTable, unavailable } from "../src/servers.ts";
import { suite, targets } from "../src/suite.ts";

describe("server table", () => {
  const table = serverTable();
  const byId = (id: string) => table.find((s) => s.id === id)!;

  it("has the peers and a slot for wirehouse on each runtime", () => {
    for (const id of ["ws-node", "bun-ws", "deno-ws", "node-http", "bun-http", "deno-http", "nginx"])
      assert.ok(byId(id), id);
    for (const rt of ["node", "deno", "bun"]) {
      assert.equal(byId(`wirehouse-${rt}`).wirehouse, true);
      assert.equal(byId(`wirehouse-${rt}`).runtime, rt);
      assert.equal(byId(`wirehouse-http-${rt}`).kind, "http");
    }
    assert.equal(new Set(table.map((s) => s.id)).size, table.length, "ids are unique");
  });

  it("builds each runtime's command with --port last", () => {
    const node = serverCommand(byId("ws-node"), 1234);
    assert.match(node[1]!, /benchmarks\/servers\/ws\.mjs$/);
    assert.deepEqual(node.slice(-2), ["--port", "1234"]);
    const deno = serverCommand(byId("deno-ws"), 1);
    assert.match(deno[0]!, /deno$/);
    assert.deepEqual(deno.slice(1, 3), ["run", "-A"]);
    assert.match(serverCommand(byId("bun-ws"), 1)[0]!, /bun$/);
    assert.deepEqual(serverCommand(byId("ws-bun"), 7).slice(-3), ["--npm-ws", "--port", "7"]);
    const ts: ServerSpec = { id: "x", label: "x", runtime: "node", kind: "ws", script: "examples/echo/main.ts" };
    assert.deepEqual(serverCommand(ts, 9).slice(1, 3), ["--import", "tsx"]);
    assert.deepEqual(serverCommand(byId("nginx"), 5, "/tmp/d/nginx.conf"), [
      "nginx",
      "-p",
      "/tmp/d",
      "-c",
      "/tmp/d/nginx.conf",
    ]);
  });

  it("says why a server cannot run", () => {
    const missing: ServerSpec = {
      id: "m",
      label: "m",
      runtime: "deno",
      kind: "ws",
      script: "examples/none/nothing.ts",
    };
    assert.match(unavailable(missing, () => true)!, /not written yet/);
    assert.equal(
      unavailable(byId("ws-node"), () => true),
      undefined,
    );
    assert.match(unavailable(byId("nginx"), () => false)!, /not installed/);
  });
});

describe("nginx config", () => {
  it("one worker, sendfile, no access log, loopback on the given port, everything in the run's directory", () => {
    const conf = nginxConfig("/tmp/run", 8123, false);
    assert.match(conf, /worker_processes 1;/);
    assert.match(conf, /sendfile on;/);
    assert.match(conf, /access_log off;/);
    assert.match(conf, /listen 127\.0\.0\.1:8123;/);
    assert.match(conf, /root \/tmp\/run\/www;/);
    assert.match(conf, /pid \/tmp\/run\/nginx\.pid;/);
    assert.doesNotMatch(conf, /^user /m);
    assert.match(nginxConfig("/tmp/run", 1, true), /^user root root;/m);
  });
});

describe("suites", () => {
  it("quick: echo 32 B and 16 KiB, 10k connections, static 4 KiB; full adds broadcast and 256 KiB", () => {
    const quick = suite("quick", true).scenarios.map((s) => s.id);
    assert.deepEqual(quick, ["echo-32", "echo-16k", "connect-10k", "static-4k-wrk"]);
    assert.deepEqual(
      suite("quick", false)
        .scenarios.map((s) => s.id)
        .slice(-1),
      ["static-4k-autocannon"],
    );
    const full = suite("full").scenarios.map((s) => s.id);
    for (const id of ["broadcast-1k", "static-256k-autocannon", "static-256k-wrk", "static-4k-autocannon"])
      assert.ok(full.includes(id), id);
    assert.ok(suite("full").repeats > suite("quick").repeats);
  });

  it("every target names a wirehouse server and a scenario metric that exist", () => {
    const s = suite("full");
    const table = serverTable();
    const t = targets(s.scenarios.map((x) => x.id));
    assert.ok(t.length >= 16);
    for (const target of t) {
      const sc = s.scenarios.find((x) => x.id === target.scenario)!;
      assert.ok(
        sc.metrics.some((m) => m.key === target.metric),
        target.text,
      );
      assert.ok(sc.servers.includes(target.server), target.text);
      assert.equal(table.find((x) => x.id === target.server)?.wirehouse, true, target.text);
      if (target.peer) assert.ok(sc.servers.includes(target.peer), target.text);
    }
  });
});
