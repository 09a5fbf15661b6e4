// Headless Chromium (Debian's `chromium`) opens the default site's chat page
// in two pages; a message sent in one arrives in the other. Node only: the
// test is registered only when the runtime is Node.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { App } from "../src/app.ts";
import { defaultConfig } from "../src/cli.ts";
import { startApp } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const g = globalThis as { Deno?: unknown; Bun?: unknown };

if (!g.Deno && !g.Bun) {
  describe("browser: default site chat in headless Chromium", () => {
    let app: App;
    let port: number;
    before(async () => {
      ({ app, port } = await startApp(defaultConfig()));
    });
    after(async () => {
      await app.close();
    });

    it("a message sent in one page arrives in the other", { timeout: 60_000 }, async () => {
      assert.ok(
        existsSync(CHROMIUM),
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; listed in .ci/apt-packages)`,
      );
      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      try {
        const context = await browser.newContext();
        const one = await context.newPage();
        const two = await context.newPage();
        await one.goto(`http://127.0.0.1:${port}/chat.html?name=one`);
        await two.goto(`http://127.0.0.1:${port}/chat.html?name=two`);
        await one.waitForSelector("body[data-state=open]", { timeout: 15_000 });
        await two.waitForSelector("body[data-state=open]", { timeout: 15_000 });
        await one.fill("#text", "hello from page one");
        await one.click("#send");
        await two.waitForFunction(
          () =>
            Array.from(document.querySelectorAll("#log .line")).some(
              (el) => el.textContent === "one: hello from page one",
            ),
          undefined,
          { timeout: 15_000 },
        );
        const lines = await two.$$eval("#log .line", (els) => els.map((el) => el.textContent));
        assert.ok(lines.includes("one: hello from page one"), lines.join("\n"));
      } finally {
        await browser.close();
      }
    });
  });
}
