import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DirectoryFiles, PageEngine, WebsocketScriptHost } from "@wirehouse/sandbox";
import ejs from "ejs";
import { repoRoot } from "../src/servers.ts";

const sites = join(repoRoot, "benchmarks", "sites");

describe("the page-script benchmark's two pages", () => {
  it("the sandbox page and the EJS template render the same bytes (a 20-item loop)", async () => {
    const engine = await PageEngine.create({ files: new DirectoryFiles(join(sites, "scripted", "web")) });
    try {
      const page = await engine.render("/shop.sjs", { method: "GET", url: "/shop.sjs", headers: {} });
      const ours = new TextDecoder().decode(page.body);
      const theirs = ejs.render(readFileSync(join(sites, "ejs", "shop.ejs"), "utf8"), {
        request: { path: "/shop.sjs" },
      });
      assert.equal(ours, theirs);
      assert.equal((ours.match(/<li /g) ?? []).length, 20);
      assert.match(ours, /<title>Shop &amp; more<\/title>/);
      assert.match(ours, /item &lt;19&gt;: 28\.50/);
    } finally {
      engine.dispose();
    }
  });

  it("the websocket script echoes text and binary as received", async () => {
    const got: Array<[number, string | Uint8Array]> = [];
    let wake = () => {};
    const host = new WebsocketScriptHost({
      file: "/scripts/echo.js",
      source: readFileSync(join(sites, "scripted", "scripts", "echo.js"), "utf8"),
      onSend: (id, data) => {
        got.push([id, typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer)]);
        wake();
      },
      onClose: () => {},
    });
    try {
      await host.ready;
      host.connect({ id: 7, url: "/echo", headers: {} });
      const two = new Promise<void>((resolve) => {
        wake = () => got.length >= 2 && resolve();
      });
      host.message(7, "hello");
      host.message(7, new Uint8Array([1, 2, 3]));
      await two;
      assert.deepEqual(got[0], [7, "hello"]);
      assert.equal(got[1]![0], 7);
      assert.deepEqual([...(got[1]![1] as Uint8Array)], [1, 2, 3]);
    } finally {
      await host.terminate();
    }
  });
});
