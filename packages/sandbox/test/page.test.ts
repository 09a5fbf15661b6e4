import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  BudgetExceededError,
  EventHub,
  MemoryFiles,
  OutOfMemoryError,
  PageEngine,
  PageNotFoundError,
  type PageRequest,
  ScriptError,
  SiteStorage,
  statusForError,
} from "../src/index.ts";
import { boundedMemory } from "../src/quickjs.ts";

/** Shared CI machines are noisy: tests that are not about the budget get a generous one. */
const LAX = { cpuMs: 5000 };
const GET: PageRequest = { method: "GET", url: "/" };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function page(source: string, request: PageRequest = GET, extra: Record<string, string> = {}): Promise<string> {
  const engine = await PageEngine.create({ files: new MemoryFiles({ "/p.sjs": source, ...extra }), limits: LAX });
  try {
    return text((await engine.render("/p.sjs", request)).body);
  } finally {
    engine.dispose();
  }
}

async function failure(engine: PageEngine, path: string, request: PageRequest = GET): Promise<Error> {
  try {
    await engine.render(path, request);
  } catch (e) {
    return e as Error;
  }
  assert.fail(`${path} rendered without an error`);
}

describe("page output", () => {
  it("outputs HTML outside tags as is and runs code blocks", async () => {
    const out = await page(
      `<ul>\n<?js for (let i = 0; i < 3; i++) { ?>  <li><?= i ?></li>\n<?js } ?></ul>\n<?xml ok ?>`,
    );
    assert.equal(out, "<ul>\n  <li>0</li>\n  <li>1</li>\n  <li>2</li>\n</ul>\n<?xml ok ?>");
  });

  it("escapes <?= ?> output and leaves print() raw", async () => {
    const out = await page(
      `<?= "<a href='x'>&\\"</a>" ?>|<?js print("<b>", 1); println("!") ?>|<?= null ?>|<?= escapeHtml("<") ?>`,
    );
    assert.equal(out, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;|<b>1!\n||&amp;lt;");
  });

  it("prints <?= ?> values as String() does, in order with print() called inside them", async () => {
    const out = await page(
      `a<?= null ?>|<?= undefined ?>|<?= 0 ?>|<?= 1048576 ?>|<?= 2097153 ?>|<?= [1, [2, "<"]] ?>|<?= ({ toString: () => "<t>" }) ?>|` +
        `<?= 1, "comma" ?>|<?= (print("<p>"), "after") ?>|<?= "x\0y<" ?>|<?js print("\0") ?>z|<?= "u\uffffv<" ?>|<?= "s\x1ft<" ?>|<?= "w<" ?>`,
    );
    assert.equal(
      out,
      "a||0|1048576|2097153|1,2,&lt;|&lt;t&gt;|comma|<p>after|x\0y&lt;|\0z|u\uffffv&lt;|s\x1ft&lt;|w&lt;",
    );
    // Each way the values cross (plain, wide characters, the separator inside a value) on its own.
    assert.equal(await page(`<?= "a<" ?>|<?= "€<" ?>`), "a&lt;|€&lt;");
    assert.equal(await page(`<?= "s\x1ft<" ?>|<?= 1 ?>`), "s\x1ft&lt;|1");
  });

  it("never prints a <?= ?> value raw, even when the page tampers with its output buffers", async () => {
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/raw.sjs": `<?= "<b>" ?><?js __o.push(-1) ?>`,
        "/value.sjs": `<?= "<b>" ?><?js __o.push("x") ?>`,
        "/own.sjs": `<?js __o.push("<i>", -1) ?>ok`,
        "/gone.sjs": `<?js __o = null ?>x`,
        "/bogus.sjs": `<?js __o.push(12345) ?>x`,
      }),
    });
    try {
      assert.ok((await failure(engine, "/raw.sjs")) instanceof ScriptError);
      assert.ok((await failure(engine, "/value.sjs")) instanceof ScriptError);
      assert.equal(text((await engine.render("/own.sjs", GET)).body), "<i>ok");
      assert.ok((await failure(engine, "/gone.sjs")) instanceof ScriptError);
      assert.ok((await failure(engine, "/bogus.sjs")) instanceof ScriptError);
    } finally {
      engine.dispose();
    }
  });

  it("gives pages the built-ins their code (or the files they include) uses", async () => {
    const out = await page(
      `<?= typeof new Date(0).getTime() ?> <?= "a-b".split(/-/).length ?> <?= "abc".match("b").index ?> ` +
        `<?= new Map([[1, 2]]).get(1) + new Set([1, 1]).size ?> <?= "\u0041\u030a".normalize().length ?> ` +
        `<?js Promise.resolve(5).then((v) => print(v)); (async () => print(await 6))() ?>` +
        `<?import inc.sjs ?><?js include("dyn" + ".sjs") ?>`,
      GET,
      { "/inc.sjs": ` <?= typeof Date.now() ?>`, "/dyn.sjs": ` <?= typeof WeakMap ?>` },
    );
    // Promise jobs run after the page's code, so their output comes last.
    assert.equal(out, "number 2 1 3 1  number function56");
    // localeCompare comes with the same built-in as normalize.
    assert.equal(await page(`<?= "a".localeCompare("b") ?>`), "-1");
    // A page that names none of them does without, and can not tell.
    assert.equal(await page(`<?= [typeof JSON, typeof Object, typeof Array].join() ?>`), "object,function,function");
    assert.equal(
      await page(`<?= ["Date", "RegExp", "Map", "Set", "Promise"].map((n) => typeof globalThis[n]).join() ?>`),
      "function,function,function,function,function",
    );
  });

  it("includes files relative to the including file, sharing globals", async () => {
    const out = await page(
      `<?js var title = "T&C" ?><?import parts/head.sjs ?>body<?js include("/parts/foot.sjs") ?>`,
      GET,
      {
        "/parts/head.sjs": `<h1><?= title ?></h1><?import ./sub/x.sjs ?>`,
        "/parts/sub/x.sjs": `[<?import ../foot.sjs ?>]`,
        "/parts/foot.sjs": `<footer/>`,
      },
    );
    assert.equal(out, "<h1>T&amp;C</h1>[<footer/>]body<footer/>");
  });

  it("includes a .js file as code", async () => {
    const out = await page(`<?import lib.js ?><?= twice(21) ?>`, GET, {
      "/lib.js": "function twice(n) { return n * 2 }",
    });
    assert.equal(out, "42");
  });

  it("refuses include cycles and paths outside the site root", async () => {
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/a.sjs": "a<?import b.sjs ?>",
        "/b.sjs": "b<?import a.sjs ?>",
        "/c.sjs": "<?import ../../etc/passwd ?>",
      }),
    });
    try {
      const cycle = await failure(engine, "/a.sjs");
      assert.ok(cycle instanceof ScriptError);
      assert.match(cycle.message, /include cycle: \/a.sjs -> \/b.sjs -> \/a.sjs/);
      const outside = await failure(engine, "/c.sjs");
      assert.match(outside.message, /outside the site root/);
      const readOutside = await page(`<?js try { readFile("../x") } catch (e) { print(e.message) } ?>`);
      assert.match(readOutside, /outside the site root/);
    } finally {
      engine.dispose();
    }
  });

  it("recompiles when the file version changes", async () => {
    const files = new MemoryFiles({ "/p.sjs": "one" });
    const engine = await PageEngine.create({ files, limits: LAX });
    try {
      assert.equal(text((await engine.render("/p.sjs", GET)).body), "one");
      files.set("/p.sjs", "two");
      assert.equal(text((await engine.render("/p.sjs", GET)).body), "two");
      files.delete("/p.sjs");
      assert.ok((await failure(engine, "/p.sjs")) instanceof PageNotFoundError);
    } finally {
      engine.dispose();
    }
  });

  it("reads site files through the host's reader", async () => {
    assert.equal(
      await page(`<?= readFile("data/x.txt") ?>|<?= readFile("nope") ?>`, GET, { "/data/x.txt": "<hi>" }),
      "&lt;hi&gt;|",
    );
  });
});

describe("request and response", () => {
  it("exposes method, url, path, query, headers, cookies, remote address and body", async () => {
    const out = await page(
      `<?js print(JSON.stringify([request.method, request.path, request.query, request.headers["x-a"], request.cookies, request.remoteAddress, request.body])) ?>`,
      {
        method: "POST",
        url: "/a%20b?x=1&y=2&y=3",
        headers: { "x-a": "v", cookie: "s=abc; t=%C3%A9" },
        remoteAddress: "127.0.0.1",
        body: { name: "n" },
      },
    );
    assert.deepEqual(JSON.parse(out), [
      "POST",
      "/a b",
      { x: "1", y: ["2", "3"] },
      "v",
      { s: "abc", t: "é" },
      "127.0.0.1",
      { name: "n" },
    ]);
  });

  it("gives a page the request properties it reads, and all of them when it reads them by computed name", async () => {
    const request: PageRequest = { method: "PUT", url: "/p.sjs?q=1", headers: { cookie: "c=1" }, remoteAddress: "::1" };
    assert.equal(await page(`<?= request.path ?> <?= request . method ?>`, request), "/p.sjs PUT");
    assert.equal(
      await page(`<?= Object.keys(request).join() ?>`, request),
      "method,url,path,query,headers,cookies,remoteAddress,body",
    );
    assert.equal(await page(`<?= request["remoteAddress"] ?> <?= request.query.q ?>`, request), "::1 1");
    // What the files the page includes read counts too.
    assert.equal(
      await page(`<?= request.path ?><?import inc.sjs ?>`, request, {
        "/inc.sjs": ` <?= request.cookies.c ?> <?= request.remoteAddress ?>`,
      }),
      "/p.sjs 1 ::1",
    );
  });

  it("sets status, headers, cookies and type", async () => {
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/p.sjs": `<?js response.status = 201; response.header("X-Thing", "1"); response.type = "text/plain"; response.cookie("sid", "a b", { httpOnly: true, sameSite: "lax", maxAge: 60 }) ?>ok`,
        "/r.sjs": `<?js response.redirect("/next") ?>`,
        "/j.sjs": `ignored<?js response.json({ a: [1, "<"] }) ?>`,
        "/bad.sjs": `<?js response.header("X", "a\\r\\nSet-Cookie: evil=1") ?>`,
      }),
    });
    try {
      const r = await engine.render("/p.sjs", GET);
      assert.equal(r.status, 201);
      assert.deepEqual(r.headers, [
        ["content-type", "text/plain"],
        ["x-thing", "1"],
        ["set-cookie", "sid=a%20b; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"],
      ]);
      assert.equal(text(r.body), "ok");
      const red = await engine.render("/r.sjs", GET);
      assert.equal(red.status, 302);
      assert.deepEqual(red.headers[1], ["location", "/next"]);
      const j = await engine.render("/j.sjs", GET);
      assert.deepEqual(j.headers[0], ["content-type", "application/json; charset=utf-8"]);
      assert.deepEqual(JSON.parse(text(j.body)), { a: [1, "<"] });
      assert.ok((await failure(engine, "/bad.sjs")) instanceof ScriptError);
    } finally {
      engine.dispose();
    }
  });
});

describe("errors", () => {
  let engine: PageEngine;
  before(async () => {
    engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/throw.sjs": `line 1\nline 2 <?= 1 ?>\n<?js\n  var x = 1;\n  null.foo;\n?>`,
        "/inc.sjs": `a\n\n<?import parts/bad.sjs ?>`,
        "/parts/bad.sjs": `x\ny\n  <?= missingName ?>`,
        "/syntax.sjs": `ok\n\n<?js var = 1 ?>`,
        "/unclosed.sjs": `ok\n<?js var a = 1`,
        "/thrown.sjs": `<?js\nfunction f() {\n  throw new Error("boom");\n}\nf();\n?>`,
        "/ok.sjs": `fine`,
      }),
    });
  });
  after(() => engine.dispose());

  it("reports runtime errors at the template's file and line", async () => {
    const e = (await failure(engine, "/throw.sjs")) as ScriptError;
    assert.ok(e instanceof ScriptError);
    assert.equal(e.errorName, "TypeError");
    assert.equal(e.file, "/throw.sjs");
    assert.equal(e.line, 5);
    assert.equal(statusForError(e), 500);
  });

  it("maps lines through includes", async () => {
    const e = (await failure(engine, "/inc.sjs")) as ScriptError;
    assert.equal(e.errorName, "ReferenceError");
    assert.equal(e.file, "/parts/bad.sjs");
    assert.equal(e.line, 3);
    assert.equal(e.column, 7);
    assert.match(e.scriptStack, /\/inc\.sjs:3/);
  });

  it("reports syntax errors and unclosed tags with their line", async () => {
    const s = (await failure(engine, "/syntax.sjs")) as ScriptError;
    assert.equal(s.errorName, "SyntaxError");
    assert.equal(s.line, 3);
    const u = (await failure(engine, "/unclosed.sjs")) as ScriptError;
    assert.equal(u.errorName, "SyntaxError");
    assert.equal(u.line, 2);
  });

  it("names the throwing line inside a function", async () => {
    const e = (await failure(engine, "/thrown.sjs")) as ScriptError;
    assert.equal(e.message, "Error: boom");
    assert.equal(e.line, 3);
    assert.match(e.describe(), /^\/thrown\.sjs:3:\d+: Error: boom$/);
    assert.equal(text((await engine.render("/ok.sjs", GET)).body), "fine");
  });
});

describe("budgets", () => {
  it("interrupts a runaway loop with a BudgetExceededError and keeps serving", async () => {
    const engine = await PageEngine.create({
      limits: { cpuMs: 50 },
      files: new MemoryFiles({
        "/loop.sjs": `<?js try { while (true) {} } finally { while (true) {} } ?>`,
        "/ok.sjs": "ok",
      }),
    });
    try {
      const e = await failure(engine, "/loop.sjs");
      assert.ok(e instanceof BudgetExceededError);
      assert.equal(statusForError(e), 503);
      assert.equal(text((await engine.render("/ok.sjs", GET)).body), "ok");
    } finally {
      engine.dispose();
    }
  });

  it("stops a script over its memory limit with an OutOfMemoryError and keeps serving", async () => {
    const engine = await PageEngine.create({
      limits: { cpuMs: 10_000, memoryBytes: 2 * 1024 * 1024 },
      files: new MemoryFiles({
        "/mem.sjs": `<?js var a = []; while (true) a.push([a.length, a.length]); ?>`,
        "/ok.sjs": "ok",
      }),
    });
    try {
      const e = await failure(engine, "/mem.sjs");
      assert.ok(e instanceof OutOfMemoryError, String(e));
      assert.equal(statusForError(e), 503);
      assert.equal(text((await engine.render("/ok.sjs", GET)).body), "ok");
    } finally {
      engine.dispose();
    }
  });

  it("stops a script that grows memory in a few large blocks, and the next render has its memory back", async () => {
    // QuickJS's WebAssembly build counts 8 bytes per block towards the limit, so arrays of
    // 100,000 elements (800 KB each, one block) were bounded only by the 2 GiB heap, and the
    // runtime was left too full to serve anything after them.
    const engine = await PageEngine.create({
      limits: { cpuMs: 10_000, memoryBytes: 8 * 1024 * 1024 },
      files: new MemoryFiles({
        "/bomb.sjs": `<?js var a = []; while (true) a.push(new Array(100000).fill(a.length)); ?>`,
        "/fits.sjs": `<?js var a = []; for (var i = 0; i < 6; i++) a.push(new Array(100000).fill(i)); ?><?= a.length ?>`,
      }),
    });
    try {
      assert.equal(text((await engine.render("/fits.sjs", GET)).body).trim(), "6");
      for (let round = 0; round < 2; round++) {
        const e = await failure(engine, "/bomb.sjs");
        assert.ok(e instanceof OutOfMemoryError, String(e));
        assert.equal(statusForError(e), 503);
        assert.equal(text((await engine.render("/fits.sjs", GET)).body).trim(), "6", `after bomb ${round + 1}`);
      }
    } finally {
      engine.dispose();
    }
  });

  it("turns deep recursion into a script error, not a host crash", async () => {
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({ "/deep.sjs": `<?js function f() { return f() + 1 } f() ?>`, "/ok.sjs": "ok" }),
    });
    try {
      const e = await failure(engine, "/deep.sjs");
      assert.ok(e instanceof ScriptError || e instanceof OutOfMemoryError, String(e));
      assert.equal(text((await engine.render("/ok.sjs", GET)).body), "ok");
    } finally {
      engine.dispose();
    }
  });
});

describe("sandbox escapes", () => {
  it("has no host globals", async () => {
    const out = await page(
      `<?= [typeof process, typeof require, typeof Deno, typeof Bun, typeof fetch, typeof module, typeof setTimeout, typeof WebAssembly, typeof std, typeof os].join() ?>`,
    );
    assert.equal(
      out,
      "undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined",
    );
  });

  it("cannot import modules", async () => {
    const out = await page(`<?js import("node:fs").then(() => print("loaded"), (e) => print("refused")); ?>`);
    assert.equal(out, "refused");
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({ "/m.sjs": `<?js import fs from "node:fs" ?>` }),
    });
    try {
      assert.ok((await failure(engine, "/m.sjs")) instanceof ScriptError);
    } finally {
      engine.dispose();
    }
  });

  it("reaches only the sandbox global through constructor tricks", async () => {
    const out = await page(
      `<?js var g = ({}).constructor.constructor("return this")(); var g2 = (function(){ return this })(); var g3 = print.constructor("return globalThis")();
      print(g === globalThis, g2 === globalThis, g3 === globalThis, typeof g.process, typeof g.require, Object.keys(g).includes("Buffer")) ?>`,
    );
    assert.equal(out, "truetruetrueundefinedundefinedfalse");
  });

  it("leaks nothing between requests", async () => {
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/set.sjs": `<?js globalThis.leak = 1; Object.prototype.polluted = 1; Array.prototype.push = function () {}; var v = 2 ?>set`,
        "/get.sjs": `<?= [typeof leak, typeof ({}).polluted, typeof v].join() ?>`,
      }),
    });
    try {
      await engine.render("/set.sjs", GET);
      assert.equal(text((await engine.render("/get.sjs", GET)).body), "undefined,undefined,undefined");
    } finally {
      engine.dispose();
    }
  });

  it("gives every request a fresh context: a page changing built-ins sees them pristine next time", async () => {
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/count.sjs": `<?js Object.prototype.count = (Object.prototype.count || 0) + 1; String.prototype.trim = () => "x"; var seen = typeof kept; var kept = 1 ?><?= ({}).count ?> <?= " a ".trim() ?> <?= seen ?>`,
        "/date.sjs": `<?js Date.prototype.getTime = () => 0; Map.prototype.get = () => 1 ?><?= new Date(5).getTime() ?> <?= new Map().get(2) ?>`,
        "/date2.sjs": `<?= new Date(5).getTime() ?> <?= new Map([[2, 3]]).get(2) ?> <?= typeof ({}).count ?>`,
      }),
    });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(text((await engine.render("/count.sjs", GET)).body), "1 x undefined");
        assert.equal(text((await engine.render("/date.sjs", GET)).body), "0 1");
        assert.equal(text((await engine.render("/date2.sjs", GET)).body), "5 3 undefined");
      }
    } finally {
      engine.dispose();
    }
  });

  it("has fetch only for allowed origins", async () => {
    const seen: string[] = [];
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({
        "/f.sjs": `<?js fetch("https://api.example/x").then(r => r.json()).then(v => print(v.ok, "|")); fetch("https://evil.example/").catch(e => print(e.message)) ?>`,
      }),
      fetch: {
        allow: ["https://api.example"],
        fetch: async (url) => {
          seen.push(url);
          return new Response(JSON.stringify({ ok: true }), { status: 200 });
        },
      },
    });
    try {
      const out = text((await engine.render("/f.sjs", GET)).body);
      assert.match(out, /origin not allowed: https:\/\/evil\.example/);
      assert.match(out, /true\|/);
      assert.deepEqual(seen, ["https://api.example/x"]);
    } finally {
      engine.dispose();
    }
  });
  it("keeps the output of an include whose file changed while the page waited for fetch", async () => {
    const files = new MemoryFiles({
      "/w.sjs": `<?import part.sjs ?><?js fetch("https://api.example/").then(() => include("part.sjs")) ?>`,
      "/part.sjs": `[v1 <?= 1 ?>]`,
    });
    const engine = await PageEngine.create({
      limits: LAX,
      files,
      fetch: {
        allow: ["https://api.example"],
        fetch: async () => {
          files.set("/part.sjs", `[v2 <?= 2 ?>]`);
          return new Response("{}");
        },
      },
    });
    try {
      assert.equal(text((await engine.render("/w.sjs", GET)).body), "[v1 1][v2 2]");
    } finally {
      engine.dispose();
    }
  });
});

describe("storage and events", () => {
  it("persists storage across instances with atomic writes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-sandbox-"));
    try {
      const file = join(dir, "storage.json");
      const files = new MemoryFiles({
        "/p.sjs": `<?js var n = (storage.get("hits") || 0) + 1; storage.set("hits", n); storage.set("o", { a: [n] }) ?><?= n ?>`,
      });
      const s1 = new SiteStorage(file);
      const e1 = await PageEngine.create({ limits: LAX, files, storage: s1 });
      assert.equal(text((await e1.render("/p.sjs", GET)).body), "1");
      assert.equal(text((await e1.render("/p.sjs", GET)).body), "2");
      e1.dispose();
      s1.close();
      const s2 = new SiteStorage(file);
      const e2 = await PageEngine.create({ limits: LAX, files, storage: s2 });
      assert.equal(text((await e2.render("/p.sjs", GET)).body), "3");
      assert.deepEqual(s2.get("o"), { a: [3] });
      assert.deepEqual(s2.keys().sort(), ["hits", "o"]);
      e2.dispose();
      s2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("emits events to the site's hub", async () => {
    const hub = new EventHub();
    const got: [string, unknown][] = [];
    const off = hub.on("order", (name, json) => got.push([name, JSON.parse(json)]));
    const engine = await PageEngine.create({
      limits: LAX,
      files: new MemoryFiles({ "/p.sjs": `<?js events.emit("order", { id: 7 }) ?>` }),
      events: hub,
    });
    try {
      await engine.render("/p.sjs", GET);
      assert.deepEqual(got, [["order", { id: 7 }]]);
      off();
      assert.equal(hub.listenerCount("order"), 0);
    } finally {
      engine.dispose();
    }
  });
});

describe("boundedMemory", () => {
  it("starts at the build's 16 MiB and may grow by four times the scripts' limit, never past 2 GiB", () => {
    const page = 65536;
    const m = boundedMemory(32 * 1024 * 1024);
    assert.equal(m.buffer.byteLength, 16 * 1024 * 1024);
    assert.equal(m.grow((128 * 1024 * 1024) / page), 256); // to 144 MiB: allowed
    assert.throws(() => m.grow(1), RangeError); // one page more: refused
    assert.throws(() => boundedMemory(1024 * 1024 * 1024).grow(32768 - 255), RangeError); // capped at 2 GiB
  });
});
