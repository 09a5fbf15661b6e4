import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  CLOSE_SCRIPT_FAULT,
  CLOSE_SERVICE_RESTART,
  EventHub,
  type LogEntry,
  MemoryFiles,
  PageEngine,
  SiteStorage,
  WebsocketScriptHost,
  type WebsocketScriptHostOptions,
} from "../src/index.ts";

/** A host wired to arrays, with a way to wait until a condition holds. */
function harness(source: string | (() => string), extra: Partial<WebsocketScriptHostOptions> = {}) {
  const sent: [number, string | ArrayBuffer][] = [];
  const closed: [number, number, string][] = [];
  const logs: LogEntry[] = [];
  const waiters: (() => void)[] = [];
  const poke = () => {
    for (const w of waiters.splice(0)) w();
  };
  const host = new WebsocketScriptHost({
    file: "/scripts/test.js",
    source,
    onSend: (id, data) => {
      sent.push([id, data]);
      poke();
    },
    onClose: (id, code, reason) => {
      closed.push([id, code, reason]);
      poke();
    },
    onLog: (e) => {
      logs.push(e);
      poke();
    },
    limits: { cpuMs: 5000 },
    ...extra,
  });
  /** Resolves once `cond()` is true (re-checked after every callback); fails if it is not within `ms`. */
  const until = async (cond: () => boolean, ms = 20_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`condition not met within ${ms} ms: ${cond}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  };
  const texts = (id: number) => sent.filter(([i, d]) => i === id && typeof d === "string").map(([, d]) => d as string);
  return { host, sent, closed, logs, until, texts, poke };
}

describe("websocket scripts", { timeout: 60_000 }, () => {
  it("runs connect, message and disconnect handlers with client state kept between events", async () => {
    const h = harness(`
      function onConnect(client) { client.count = 0; client.send("hello " + client.id + " " + client.header("X-Name") + " " + client.query.room) }
      function onMessage(client, data) {
        client.count++;
        if (typeof data === "string") client.send(client.count + ":" + data);
        else client.send(new Uint8Array(data).reverse().buffer);
      }
      function onDisconnect(client, code, reason) { log("bye", client.id, client.count, code, reason) }
    `);
    await h.host.ready;
    h.host.connect({ id: 1, url: "/chat?room=a", headers: { "x-name": "ann" } });
    h.host.message(1, "a");
    h.host.message(1, "b");
    h.host.message(1, new Uint8Array([1, 2, 3]));
    // Bytes whose own slice() returns a view, as Node's Buffer does: only the message's bytes may cross.
    class ViewSlicing extends Uint8Array {
      override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
        return this.subarray(start, end);
      }
    }
    const shared = new ViewSlicing([9, 9, 4, 5, 6, 9, 9, 9]);
    h.host.message(1, shared.subarray(2, 5));
    await h.until(() => h.sent.length >= 5);
    assert.deepEqual(h.texts(1), ["hello 1 ann a", "1:a", "2:b"]);
    const bin = h.sent[3]![1];
    assert.ok(bin instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(bin)], [3, 2, 1]);
    assert.deepEqual([...new Uint8Array(h.sent[4]![1] as ArrayBuffer)], [6, 5, 4]);
    h.host.disconnect(1, 1000, "done");
    await h.until(() => h.logs.length >= 1);
    assert.equal(h.logs[0]!.message, "bye 1 4 1000 done");
    await h.host.terminate();
  });

  it("applies a handler's operations in the order it performed them", async () => {
    const order: string[] = [];
    const show = (d: string | ArrayBuffer) => (typeof d === "string" ? d : `[${[...new Uint8Array(d)]}]`);
    const h = harness(
      `function onMessage(c, d) {
        c.send("1"); log("between"); c.send(new Uint8Array([2]).buffer); broadcast("3");
        broadcast(new Uint8Array([4]), c); c.send("5\u2028\ud800"); c.close(4000, "bye");
      }`,
      {
        onSend: (id, data) => {
          order.push(`s${id}:${show(data)}`);
          h.poke();
        },
        onClose: (id, code, reason) => {
          order.push(`x${id}:${code}:${reason}`);
          h.poke();
        },
      },
    );
    await h.host.ready;
    h.host.connect({ id: 1 });
    h.host.connect({ id: 2 });
    h.host.message(1, "go");
    try {
      await h.until(() => order.length >= 7);
      assert.deepEqual(order, ["s1:1", "s1:[2]", "s1:3", "s2:3", "s2:[4]", "s1:5\u2028\ud800", "x1:4000:bye"]);
      assert.equal(h.logs[0]!.message, "between");
    } finally {
      await h.host.terminate();
    }
  });

  it("keeps the order of messages sent over many ticks while batches are in flight", async () => {
    const h = harness(`function onMessage(c, d) { c.send(d) }`);
    await h.host.ready;
    h.host.connect({ id: 1 });
    h.host.connect({ id: 2 });
    const expected: string[] = [];
    for (let tick = 0; tick < 5; tick++) {
      for (let i = 0; i < 40; i++) {
        const m = `${tick}.${i}`;
        expected.push(m);
        h.host.message(1 + (i % 2), m);
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    try {
      await h.until(() => h.sent.length >= expected.length);
      assert.deepEqual(
        h.sent.map(([, d]) => d),
        expected,
      );
    } finally {
      await h.host.terminate();
    }
  });

  it("gives each handler of a batch its own CPU budget", async () => {
    // 12 handlers of ~30 ms in one batch: 360 ms in all, each well under the 200 ms budget.
    const h = harness(`function onMessage(c, d) { var t = Date.now(); while (Date.now() - t < 30) {} c.send(d) }`, {
      limits: { cpuMs: 200 },
    });
    await h.host.ready;
    h.host.connect({ id: 1 });
    for (let i = 0; i < 12; i++) h.host.message(1, String(i));
    try {
      await h.until(() => h.sent.length >= 12 || h.closed.length > 0);
      assert.deepEqual(h.closed, []);
      assert.equal(h.host.restarts, 0);
      assert.deepEqual(
        h.texts(1),
        Array.from({ length: 12 }, (_, i) => String(i)),
      );
    } finally {
      await h.host.terminate();
    }
  });

  it("broadcasts to all clients but the excepted one and lists clients", async () => {
    const h = harness(`
      function onMessage(client, data) { broadcast(client.id + ":" + data + ":" + clients().length, client) }
    `);
    await h.host.ready;
    for (const id of [1, 2, 3]) h.host.connect({ id });
    h.host.message(2, "hi");
    await h.until(() => h.sent.length >= 2);
    assert.deepEqual(h.sent.map(([id]) => id).sort(), [1, 3]);
    assert.deepEqual(h.texts(1), ["2:hi:3"]);
    await h.host.terminate();
    assert.deepEqual(
      h.closed.map(([id, code]) => [id, code]),
      [
        [1, 1001],
        [2, 1001],
        [3, 1001],
      ],
    );
  });

  it("logs a throwing handler and goes on", async () => {
    const h = harness(`
      function onMessage(client, data) {
        if (data === "bad") null.boom;
        client.send("ok " + data);
      }
    `);
    await h.host.ready;
    h.host.connect({ id: 7 });
    h.host.message(7, "bad");
    h.host.message(7, "good");
    await h.until(() => h.sent.length >= 1 && h.logs.length >= 1);
    assert.deepEqual(h.texts(7), ["ok good"]);
    assert.equal(h.logs[0]!.level, "error");
    assert.match(h.logs[0]!.message, /onMessage: TypeError: cannot read property 'boom' of null/);
    assert.match(h.logs[0]!.message, /\/scripts\/test\.js:3/);
    await h.host.terminate();
  });

  it("restarts a runaway script with 1011 while another script keeps serving", async () => {
    const bad = harness(`function onMessage(c, d) { if (d === "spin") for (;;) {} c.send("pong") }`, {
      limits: { cpuMs: 50 },
    });
    const good = harness(`function onMessage(c, d) { c.send("echo " + d) }`);
    await Promise.all([bad.host.ready, good.host.ready]);
    bad.host.connect({ id: 1 });
    bad.host.connect({ id: 2 });
    good.host.connect({ id: 1 });
    bad.host.message(1, "spin");
    good.host.message(1, "a");
    await bad.until(() => bad.closed.length >= 2);
    assert.deepEqual(bad.closed.map(([id, code]) => [id, code]).sort(), [
      [1, CLOSE_SCRIPT_FAULT],
      [2, CLOSE_SCRIPT_FAULT],
    ]);
    assert.equal(bad.host.restarts, 1);
    await good.until(() => good.sent.length >= 1);
    good.host.message(1, "b");
    await good.until(() => good.sent.length >= 2);
    assert.deepEqual(good.texts(1), ["echo a", "echo b"]);
    // The restarted script serves new clients.
    await bad.host.ready;
    bad.host.connect({ id: 3 });
    bad.host.message(3, "x");
    await bad.until(() => bad.sent.length >= 1);
    assert.deepEqual(bad.texts(3), ["pong"]);
    await Promise.all([bad.host.terminate(), good.host.terminate()]);
  });

  /** A 4 MiB script that grows memory on its first message is restarted (1011) and says why in the log. */
  async function restartsOverMemory(source: string): Promise<void> {
    const h = harness(source, { limits: { memoryBytes: 4 * 1024 * 1024, cpuMs: 20_000 } });
    await h.host.ready;
    h.host.connect({ id: 1 });
    h.host.message(1, "go");
    await h.until(() => h.closed.length >= 1);
    assert.deepEqual(h.closed[0], [1, CLOSE_SCRIPT_FAULT, "script restarted"]);
    assert.match(h.logs.map((l) => l.message).join("\n"), /memory limit/);
    await h.host.terminate();
  }

  it("restarts a script over its memory limit with 1011", async () => {
    await restartsOverMemory(
      `var keep = []; function onMessage(c, d) { for (;;) keep.push([keep.length, keep.length]) }`,
    );
  });

  it("restarts a script that grows memory in a few large blocks, like one that grows it in many", async () => {
    // Arrays of 100,000 elements are one 800 KB block each, which QuickJS's own count misses (see
    // boundedMemory): the worker's bounded heap stops the script (without it: towards 2 GiB).
    await restartsOverMemory(
      `var keep = []; function onMessage(c, d) { for (;;) keep.push(new Array(100000).fill(keep.length)) }`,
    );
  });

  it("reloads on change, closing clients with 1012", async () => {
    let version = "v1";
    const h = harness(() => `function onMessage(c, d) { c.send("${version} " + d) }`);
    await h.host.ready;
    h.host.connect({ id: 1 });
    h.host.message(1, "a");
    await h.until(() => h.sent.length >= 1);
    version = "v2";
    await h.host.reload();
    assert.deepEqual(h.closed, [[1, CLOSE_SERVICE_RESTART, "service restart"]]);
    h.host.connect({ id: 2 });
    h.host.message(2, "b");
    await h.until(() => h.sent.length >= 2);
    assert.deepEqual(h.texts(1), ["v1 a"]);
    assert.deepEqual(h.texts(2), ["v2 b"]);
    await h.host.terminate();
  });

  it("answers onRequest with a redirect or a body", async () => {
    const h = harness(
      `function onRequest(c) { if (c.query.go) c.redirect("/chat.html"); else return "<p>" + c.header("user-agent") + "</p>" }`,
    );
    await h.host.ready;
    assert.deepEqual(await h.host.request({ id: 1, url: "/chat?go=1" }), { redirect: "/chat.html" });
    assert.deepEqual(await h.host.request({ id: 2, url: "/chat", headers: { "user-agent": "t" } }), {
      body: "<p>t</p>",
    });
    await h.host.terminate();
  });

  it("runs timers from the host loop and clears them", async () => {
    const h = harness(`
      function onConnect(c) {
        var n = 0;
        var iv = setInterval(function () { n++; if (n === 3) { clearInterval(iv); c.send("ticks " + n) } }, 1);
        var t = setTimeout(function () { c.send("never") }, 1);
        clearTimeout(t);
        setTimeout(function (a) { c.send("once " + a) }, 1, "x");
      }
    `);
    await h.host.ready;
    h.host.connect({ id: 1 });
    await h.until(() => h.sent.length >= 2);
    assert.deepEqual(h.texts(1).sort(), ["once x", "ticks 3"]);
    await h.host.terminate();
  });

  it("delivers site events across scripts and lag to clients", async () => {
    const hub = new EventHub();
    const a = harness(
      `events.on("news", function (v) { clients().forEach(function (c) { c.send("a got " + v.text + " lag " + c.lag) }) });
       function onConnect(c) { c.send("joined") }`,
      { events: hub },
    );
    const b = harness(`function onMessage(c, d) { events.emit("news", { text: d }) }`, { events: hub });
    await Promise.all([a.host.ready, b.host.ready]);
    a.host.connect({ id: 1 });
    a.host.lag(1, 12);
    b.host.connect({ id: 1 });
    await a.until(() => a.sent.length >= 1);
    assert.equal(hub.listenerCount("news"), 1);
    b.host.message(1, "hi");
    await a.until(() => a.sent.length >= 2);
    assert.deepEqual(a.texts(1), ["joined", "a got hi lag 12"]);
    await Promise.all([a.host.terminate(), b.host.terminate()]);
    assert.equal(hub.listenerCount("news"), 0);
  });

  it("reports a script that does not load and refuses its clients", async () => {
    const h = harness(`function onMessage( {`);
    await assert.rejects(h.host.ready, /SyntaxError/);
    h.host.connect({ id: 1 });
    assert.deepEqual(h.closed, [[1, CLOSE_SCRIPT_FAULT, "script failed to load"]]);
    await h.host.terminate();
  });

  it("has no host globals inside the script", async () => {
    const h = harness(
      `function onConnect(c) { c.send([typeof process, typeof require, typeof Deno, typeof Bun, typeof fetch, typeof __h, typeof postMessage, typeof self].join()) }`,
    );
    await h.host.ready;
    h.host.connect({ id: 1 });
    await h.until(() => h.sent.length >= 1);
    assert.deepEqual(h.texts(1), ["undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined"]);
    await h.host.terminate();
  });

  it("shares storage with the site's pages, in both directions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-sandbox-ws-"));
    const storage = new SiteStorage(join(dir, "storage.json"));
    const engine = await PageEngine.create({
      files: new MemoryFiles({
        "/p.sjs": `<?js storage.set("fromPage", { n: 1 }) ?><?= JSON.stringify(storage.get("fromScript")) ?>`,
      }),
      storage,
      limits: { cpuMs: 5000 },
    });
    const h = harness(
      `function onMessage(c, d) { if (d === "set") storage.set("fromScript", [1, 2]); else c.send(JSON.stringify(storage.get("fromPage"))) }
       function onConnect(c) { c.send("joined") }`,
      { storage },
    );
    try {
      await h.host.ready;
      h.host.connect({ id: 1 });
      h.host.message(1, "set");
      await h.until(() => h.sent.length >= 1);
      // Connect and "set" went in one batch; its operations are applied together.
      assert.equal(storage.getJson("fromScript"), "[1,2]");
      const page = await engine.render("/p.sjs", { method: "GET", url: "/" });
      assert.equal(new TextDecoder().decode(page.body), "[1,2]");
      h.host.message(1, "get");
      await h.until(() => h.sent.length >= 2);
      assert.deepEqual(h.texts(1), ["joined", '{"n":1}']);
    } finally {
      await h.host.terminate();
      engine.dispose();
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fetches from allowed origins only", async () => {
    const server = createServer((req, res) => res.end(`hello ${req.url}`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const h = harness(
      `function onMessage(c, d) { fetch(d).then(function (r) { return r.text() }).then(function (t) { c.send(t) }, function (e) { c.send(e.message) }) }`,
      { fetch: { allow: [origin] } },
    );
    const none = harness(`function onConnect(c) { c.send(typeof fetch) }`);
    try {
      await Promise.all([h.host.ready, none.host.ready]);
      h.host.connect({ id: 1 });
      h.host.message(1, `${origin}/x`);
      await h.until(() => h.sent.length >= 1);
      h.host.message(1, "http://example.invalid/");
      await h.until(() => h.sent.length >= 2);
      assert.deepEqual(h.texts(1), ["hello /x", "fetch: origin not allowed: http://example.invalid"]);
      none.host.connect({ id: 1 });
      await none.until(() => none.sent.length >= 1);
      assert.deepEqual(none.texts(1), ["undefined"]);
    } finally {
      await Promise.all([h.host.terminate(), none.host.terminate()]);
      await new Promise((r) => server.close(r));
    }
  });
});
