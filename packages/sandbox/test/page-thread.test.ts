import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import {
  BudgetExceededError,
  EventHub,
  type LogEntry,
  MemoryStorage,
  PageNotFoundError,
  type PageRequest,
  PageThread,
  type PageThreadOptions,
  ScriptError,
  SiteStorage,
  statusForError,
} from "../src/index.ts";
import { ReplicaStore } from "../src/replica-store.ts";

const GET: PageRequest = { method: "GET", url: "/" };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A site folder with `files` (site-relative path → source). */
function site(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "wh-page-thread-"));
  dirs.push(root);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  return root;
}

async function thread(files: Record<string, string>, extra: Partial<PageThreadOptions> = {}): Promise<PageThread> {
  return PageThread.create({ files: { root: site(files) }, limits: { cpuMs: 5000 }, ...extra });
}

async function failure(t: PageThread, path: string): Promise<Error> {
  try {
    await t.render(path, GET);
  } catch (e) {
    return e as Error;
  }
  assert.fail(`${path} rendered without an error`);
}

/**
 * A page that spends seconds in native JSON.parse calls: a loop of a few
 * turns never reaches the engine's interrupt check, so its CPU budget
 * cannot stop it (measured on the main thread: 20 turns of a 6 MB parse ran 6.7 s).
 */
const NATIVE_HOG = `<?js var s = "[" + "1234567890,".repeat(600000) + "1]"; for (var i = 0; i < 40; i++) JSON.parse(s); ?>done`;

describe("PageThread", () => {
  it("renders pages on its worker as PageEngine does: output, status, headers, request, includes", async () => {
    const t = await thread({
      "/index.sjs": `<?js response.status = 201; response.header("x-a", "1"); ?><?import part.sjs ?>:<?= request.query.q ?>:<?= request.method ?>`,
      "/part.sjs": `<b><?= 1 + 1 ?></b>`,
    });
    try {
      const r = await t.render("/index.sjs", { method: "POST", url: "/index.sjs?q=<x>" });
      assert.equal(r.status, 201);
      assert.deepEqual(r.headers, [
        ["content-type", "text/html; charset=utf-8"],
        ["x-a", "1"],
      ]);
      assert.equal(text(r.body), "<b>2</b>:&lt;x&gt;:POST");
      assert.ok(r.body instanceof Uint8Array);
      assert.equal(t.usesBytecode, true);
      // Many renders in flight at once each get their own answer.
      const all = await Promise.all(
        Array.from({ length: 50 }, (_, i) => t.render("/index.sjs", { method: "GET", url: `/index.sjs?q=${i}` })),
      );
      assert.deepEqual(
        all.map((x) => text(x.body)),
        Array.from({ length: 50 }, (_, i) => `<b>2</b>:${i}:GET`),
      );
    } finally {
      t.dispose();
    }
  });

  it("rejects with the same typed errors: 404, script errors with their place, budget", async () => {
    const t = await thread(
      {
        "/bad.sjs": `line one\n<?js\nnull.x; ?>`,
        "/loop.sjs": `<?js for (;;) {} ?>`,
        "/ok.sjs": "ok",
      },
      { limits: { cpuMs: 50 } },
    );
    try {
      const missing = await failure(t, "/nope.sjs");
      assert.ok(missing instanceof PageNotFoundError, String(missing));
      const bad = await failure(t, "/bad.sjs");
      assert.ok(bad instanceof ScriptError, String(bad));
      assert.equal(bad.errorName, "TypeError");
      assert.equal(bad.file, "/bad.sjs");
      assert.equal(bad.line, 3);
      assert.match(bad.describe(), /^\/bad\.sjs:3:\d+: TypeError: /);
      const loop = await failure(t, "/loop.sjs");
      assert.ok(loop instanceof BudgetExceededError, String(loop));
      assert.equal(loop.budgetMs, 50);
      assert.equal(statusForError(loop), 503);
      // The engine's own budget stopped it: the worker was not replaced.
      assert.equal(t.restarts, 0);
      assert.equal(text((await t.render("/ok.sjs", GET)).body), "ok");
    } finally {
      t.dispose();
    }
  });

  it("applies a page's storage writes, events and log lines on the host, in order", async () => {
    const root = site({});
    const storage = new SiteStorage(join(root, "storage.json"));
    const events = new EventHub();
    const seen: string[] = [];
    events.on("hit", (name, json) => seen.push(`${name}=${json}`));
    const logs: LogEntry[] = [];
    const t = await thread(
      {
        "/count.sjs": `<?js var n = (storage.get("n") || 0) + 1; storage.set("n", n); events.emit("hit", n); log("n is", n); storage.delete("gone"); ?><?= n ?>`,
        "/read.sjs": `<?js print(JSON.stringify(storage.get("other"))) ?>`,
      },
      { storage, events, log: (e) => logs.push(e) },
    );
    try {
      storage.set("gone", 1);
      // 30 renders at once: the worker runs them one after another on its copy, so none is lost.
      const out = await Promise.all(Array.from({ length: 30 }, () => t.render("/count.sjs", GET)));
      assert.deepEqual(
        out.map((r) => Number(text(r.body))).sort((a, b) => a - b),
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      assert.equal(storage.get("n"), 30);
      assert.equal(storage.get("gone"), undefined);
      assert.deepEqual(
        seen,
        Array.from({ length: 30 }, (_, i) => `hit=${i + 1}`),
      );
      assert.deepEqual(
        logs.map((l) => [l.level, l.message, l.file]),
        Array.from({ length: 30 }, (_, i) => ["log", `n is ${i + 1}`, "/count.sjs"]),
      );
      // A change made here (by a websocket script, say) reaches the worker's copy before the next render.
      storage.set("other", { a: [1] });
      assert.equal(text((await t.render("/read.sjs", GET)).body), '{"a":[1]}');
    } finally {
      t.dispose();
      storage.close();
    }
  });

  it("starts the worker's copy from the store and takes the store's limit", async () => {
    const storage = new MemoryStorage();
    storage.setJson("seed", '"s"');
    const t = await thread(
      {
        "/p.sjs": `<?= storage.get("seed") ?>|<?js try { storage.set("big", "x".repeat(100)); print("stored"); } catch (e) { print(e.name); } ?>`,
      },
      { storage: Object.assign(storage, { maxBytes: 50 }) },
    );
    try {
      assert.equal(text((await t.render("/p.sjs", GET)).body), "s|RangeError");
      assert.equal(storage.getJson("big"), undefined);
    } finally {
      t.dispose();
    }
  });

  it("kills a worker stuck in a native call, fails that render with 503, and the next pages render", async () => {
    const t = await thread(
      { "/hog.sjs": NATIVE_HOG, "/ok.sjs": `ok <?= request.query.i ?>` },
      { limits: { cpuMs: 50 }, watchdogMs: 400 },
    );
    try {
      const hog = t.render("/hog.sjs", GET).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Sent behind the stuck render: the worker never started them, so they go to the next worker.
      const behind = [1, 2, 3].map((i) => t.render("/ok.sjs", { method: "GET", url: `/ok.sjs?i=${i}` }));
      // The host's own thread keeps running meanwhile (on the main thread the page held it for seconds).
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 20);
      const error = await hog;
      clearInterval(ticker);
      assert.ok(error instanceof BudgetExceededError, String(error));
      assert.equal(error.scriptStack, "page worker unresponsive: restarted");
      assert.match(
        error.describe(),
        /^\/hog\.sjs: script exceeded its CPU budget of 50 ms \(stuck in a call .* 400 ms and was restarted\)$/,
      );
      assert.equal(error.file, "/hog.sjs");
      assert.equal(t.restarts, 1);
      assert.ok(ticks > 0, "the main thread's timers ran while the page was stuck");
      assert.deepEqual(
        (await Promise.all(behind)).map((r) => text(r.body)),
        ["ok 1", "ok 2", "ok 3"],
      );
      assert.equal(text((await t.render("/ok.sjs", { method: "GET", url: "/ok.sjs?i=4" })).body), "ok 4");
    } finally {
      t.dispose();
    }
  });

  it("does not kill a worker busy with many short renders that together outlast the watchdog", async () => {
    // 100 renders of a page that loops for several milliseconds, all asked for at once: far more
    // work in one batch than the watchdog's 300 ms, but each render is short.
    const t = await thread(
      { "/busy.sjs": `<?js var n = 0; for (var i = 0; i < 300000; i++) n += i; ?><?= n ?>` },
      {
        watchdogMs: 300,
      },
    );
    try {
      const started = performance.now();
      const all = await Promise.all(Array.from({ length: 100 }, () => t.render("/busy.sjs", GET)));
      const took = performance.now() - started;
      assert.equal(new Set(all.map((r) => text(r.body))).size, 1);
      assert.equal(t.restarts, 0);
      // Only meaningful when the batch did outlast the watchdog (1.3–1.4 s on the development VM).
      assert.ok(took > 300, `the renders took ${took.toFixed(0)} ms, less than the watchdog: make the page slower`);
    } finally {
      t.dispose();
    }
  });

  it("does not kill a worker that is slow but answering (a page waiting for fetch)", async () => {
    // An upstream that never answers: the page waits for its fetch's own time limit (1 s), five
    // times the watchdog's, with its worker free to answer pings meanwhile.
    const upstream = createServer(() => {});
    await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const t = await thread(
      {
        "/wait.sjs": `<?js fetch("${origin}/").then(function () { print("answered"); }, function (e) { print("failed: " + e.message); }); ?>`,
        "/ok.sjs": "ok",
      },
      { watchdogMs: 200, fetch: { allow: [origin], timeoutMs: 1000 } },
    );
    try {
      const waited = text((await t.render("/wait.sjs", GET)).body);
      assert.match(waited, /^failed: .*(time|abort)/i);
      assert.equal(t.restarts, 0);
      assert.equal(text((await t.render("/ok.sjs", GET)).body), "ok");
    } finally {
      t.dispose();
      upstream.closeAllConnections();
      await new Promise((done) => upstream.close(done));
    }
  });

  it("close() lets the renders in flight finish, then stops", async () => {
    // An upstream that answers when the test says: the page's render is in flight until then.
    let release!: () => void;
    let arrived!: () => void;
    const asked = new Promise<void>((r) => (arrived = r));
    const upstream = createServer((_req, res) => {
      release = () => res.end("late");
      arrived();
    });
    await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const t = await thread(
      {
        "/wait.sjs": `<?js fetch("${origin}/").then(function (r) { return r.text(); }).then(function (s) { print("got " + s); }); ?>`,
      },
      { fetch: { allow: [origin] } },
    );
    try {
      const inFlight = t.render("/wait.sjs", GET);
      await asked;
      let closed = false;
      const closing = t.close().then(() => {
        closed = true;
      });
      release();
      assert.equal(text((await inFlight).body), "got late");
      await closing;
      assert.equal(closed, true);
      await assert.rejects(t.render("/wait.sjs", GET), /disposed/);
    } finally {
      t.dispose();
      upstream.closeAllConnections();
      await new Promise((done) => upstream.close(done));
    }
  });

  it("refuses renders after dispose and rejects those in flight", async () => {
    const t = await thread({ "/p.sjs": "p" });
    const inFlight = t.render("/p.sjs", GET);
    t.dispose();
    await assert.rejects(inFlight, /disposed/);
    await assert.rejects(t.render("/p.sjs", GET), /disposed/);
  });
});

describe("ReplicaStore", () => {
  it("reads its seed, reports its own writes, applies changes from elsewhere silently, keeps the limit", () => {
    const writes: [string, string | null][] = [];
    const r = new ReplicaStore([["a", "1"]], 20, (k, v) => writes.push([k, v]));
    assert.equal(r.getJson("a"), "1");
    r.setJson("b", '"xy"');
    assert.equal(r.delete("a"), true);
    assert.equal(r.delete("a"), false);
    assert.deepEqual(writes, [
      ["b", '"xy"'],
      ["a", null],
    ]);
    r.changed("c", "3");
    r.changed("b", null);
    assert.deepEqual(r.keys(), ["c"]);
    assert.equal(writes.length, 2);
    // c=3 uses 2 bytes: 18 more fit, 19 do not.
    r.setJson("d", "x".repeat(17));
    assert.throws(() => r.setJson("e", "x".repeat(2)), RangeError);
    // Replacing a value counts the new size only.
    r.setJson("d", "y".repeat(17));
    assert.equal(r.getJson("d"), "y".repeat(17));
  });
});
