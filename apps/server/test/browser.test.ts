// Headless Chromium (Debian's `chromium`) against the app: the default site's
// chat page in two pages (a message sent in one arrives in the other), and
// forms Chromium encodes itself (multipart with a file, urlencoded) posted to
// a page script. Node only: the tests are registered only when the runtime is Node.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { defaultConfig } from "../src/cli.ts";
import { resolveConfig } from "../src/config.ts";
import { startApp } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const formsRoot = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "forms-site");

async function launch(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; listed in .ci/apt-packages)`,
  );
  const { chromium } = await import("playwright-core");
  return chromium.launch({
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
}

const g = globalThis as { Deno?: unknown; Bun?: unknown };

if (!g.Deno && !g.Bun) {
  describe("browser: headless Chromium against the app", () => {
    let browser: Browser;
    before(async () => {
      browser = await launch();
    });
    after(async () => {
      await browser?.close();
    });

    it("default site chat: a message sent in one page arrives in the other", { timeout: 60_000 }, async () => {
      const { app, port } = await startApp(defaultConfig());
      const context = await browser.newContext();
      try {
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
        await context.close();
        await app.close();
      }
    });

    it("forms Chromium encodes: multipart with a 300 KB file and urlencoded, parsed for a page script", {
      timeout: 60_000,
    }, async () => {
      const config = resolveConfig(
        { sites: { main: { root: formsRoot } }, limits: { maxBodySize: 4 << 20 } },
        join(formsRoot, "settings.js"),
        formsRoot,
      );
      const { app, port } = await startApp(config);
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        // A file that is not text (every byte value) and spans many reads.
        const file = Buffer.alloc(300_000);
        for (let i = 0; i < file.length; i++) file[i] = (i * 7 + (i >> 8)) & 0xff;

        await page.goto(`http://127.0.0.1:${port}/form.html`);
        await page.fill("#title", "Grüße & <b>");
        await page.setInputFiles("#upload", { name: "data.bin", mimeType: "application/octet-stream", buffer: file });
        await Promise.all([page.waitForURL(/echo\.sjs$/), page.click("#send-multipart")]);
        const multipart = JSON.parse((await page.textContent("body")) ?? "");
        assert.equal(multipart.method, "POST");
        assert.equal(multipart.body.title, "Grüße & <b>");
        assert.deepEqual(multipart.body.tag, ["a", "b"]);
        assert.deepEqual(multipart.body.upload, {
          filename: "data.bin",
          type: "application/octet-stream",
          size: file.length,
          base64: file.toString("base64"),
        });

        await page.goto(`http://127.0.0.1:${port}/form.html`);
        await page.fill("#q", "a+b=c & é");
        await Promise.all([page.waitForURL(/echo\.sjs$/), page.click("#send-urlencoded")]);
        const urlencoded = JSON.parse((await page.textContent("body")) ?? "");
        assert.deepEqual(urlencoded, { method: "POST", body: { q: "a+b=c & é" } });
      } finally {
        await context.close();
        await app.close();
      }
    });
  });
}
