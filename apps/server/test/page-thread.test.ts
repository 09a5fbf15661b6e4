import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveConfig } from "../src/config.ts";
import { get, startApp } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "wirehouse-page-thread-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("page scripts off the main thread", () => {
  it("a page stuck in a native call gets 503 from the watchdog while the server keeps answering", {
    timeout: 60_000,
  }, async () => {
    mkdirSync(join(tmp, "web"), { recursive: true });
    // 100 parses of 6.6 MB: seconds of native work the CPU budget cannot interrupt (a loop of
    // few turns never reaches QuickJS's interrupt check).
    writeFileSync(
      join(tmp, "web", "hog.sjs"),
      `<?js var s = "[" + "1234567890,".repeat(600000) + "1]"; for (var i = 0; i < 100; i++) JSON.parse(s); ?>done`,
    );
    writeFileSync(join(tmp, "web", "ok.sjs"), "ok <?= 6 * 7 ?>");
    writeFileSync(join(tmp, "web", "a.txt"), "static");
    const config = resolveConfig({ sites: { s: { root: tmp, limits: { cpuMs: 100 } } } }, "test", tmp);
    const { app, port, lines } = await startApp(config);
    try {
      assert.equal((await get(port, "/ok.sjs")).body, "ok 42");
      let hogDone = false;
      const hog = get(port, "/hog.sjs").finally(() => {
        hogDone = true;
      });
      // Static answers (and other sites' pages) come from the main thread: they keep coming
      // while the page's worker is stuck. On the main thread the page held every connection.
      let answered = 0;
      while (!hogDone) {
        const r = await get(port, "/a.txt");
        assert.equal(r.body, "static");
        answered++;
      }
      const stuck = await hog;
      assert.equal(stuck.status, 503);
      assert.ok(answered >= 10, `only ${answered} static answers while the page was stuck`);
      assert.ok(
        lines.some(
          (l) => l.includes("/hog.sjs") && l.includes("CPU budget") && l.includes("did not answer for 2000 ms"),
        ),
        "the stuck page is logged as over its budget",
      );
      // The next worker renders pages again.
      assert.equal((await get(port, "/ok.sjs")).body, "ok 42");
    } finally {
      await app.close();
    }
  });

  it("a reload lets the pages the old site is rendering finish (200, not 500)", { timeout: 60_000 }, async () => {
    const root = join(tmp, "reload");
    mkdirSync(join(root, "web"), { recursive: true });
    // The page waits for an upstream that answers when the test says, so it is rendering during the reload.
    let release!: () => void;
    let arrived!: () => void;
    const asked = new Promise<void>((r) => (arrived = r));
    let held = false;
    const upstream = createServer((_req, res) => {
      // The first request is held; later ones are answered at once.
      if (held) return void res.end("upstream");
      held = true;
      release = () => res.end("upstream");
      arrived();
    });
    await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    writeFileSync(
      join(root, "web", "wait.sjs"),
      `<?js fetch("${origin}/").then(function (r) { return r.text(); }).then(function (s) { print("got " + s); }); ?>`,
    );
    const config = resolveConfig({ sites: { s: { root, fetch: [origin] } } }, "test", root);
    const { app, port } = await startApp(config);
    try {
      const page = get(port, "/wait.sjs");
      await asked;
      await app.reload(config);
      release();
      const r = await page;
      assert.equal(r.status, 200);
      assert.equal(r.body, "got upstream");
      // The new site renders too.
      assert.equal((await get(port, "/wait.sjs")).body, "got upstream");
    } finally {
      await app.close();
      upstream.closeAllConnections();
      await new Promise((done) => upstream.close(done));
    }
  });
});
