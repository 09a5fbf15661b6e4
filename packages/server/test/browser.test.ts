// A real browser against the server: headless Chromium (Debian's `chromium`,
// driven with playwright-core) talks to examples/echo and examples/chat, each
// started on Node, Deno and Bun. Chromium is a WebSocket client the server did
// not write: it offers permessage-deflate with client_max_window_bits, masks
// every frame, and checks the server's side of the protocol on its own.
//
// The test process itself runs only under Node (playwright-core drives
// Chromium over pipes the way Node's child_process provides them); the server
// under test runs on each runtime as a child process.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { currentRuntime, type Runtime, startExample } from "./example-process.ts";

const CHROMIUM = "/usr/bin/chromium";
const RUNTIMES: Runtime[] = ["node", "deno", "bun"];
/** The page side of the echo test: `async (url) => EchoReport` in plain JavaScript. */
const ECHO_PAGE = readFileSync(new URL("./fixtures/browser-echo.js", import.meta.url), "utf8")
  .trim()
  .replace(/;$/, "");

interface EchoReport {
  extensions: string;
  failures: string[];
  close: { code: number; reason: string; wasClean: boolean };
}

/** Opens the chat page, joins `room` as `name` with the page's own controls, and waits until it is connected. */
async function joinChat(browser: Browser, origin: string, room: string, name: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  await page.fill("#room", room);
  await page.fill("#name", name);
  await page.click("#join");
  await page.waitForFunction((r) => document.getElementById("status")?.textContent === `connected to ${r}`, room, {
    timeout: 15_000,
  });
  return page;
}

function chatLines(page: Page): Promise<string[]> {
  return page.$$eval("#log p", (els) => els.map((el) => el.textContent ?? ""));
}

function waitForLine(page: Page, text: string): Promise<unknown> {
  return page.waitForFunction(
    (t) => Array.from(document.querySelectorAll("#log p")).some((el) => el.textContent === t),
    text,
    { timeout: 15_000 },
  );
}

if (currentRuntime === "node") {
  describe("browser: headless Chromium against the examples on each runtime", () => {
    let browser: Browser;
    before(async () => {
      assert.ok(
        existsSync(CHROMIUM),
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; listed in .ci/apt-packages)`,
      );
      const { chromium } = await import("playwright-core");
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
      });
    });
    after(async () => {
      await browser?.close();
    });

    for (const runtime of RUNTIMES) {
      it(`echo on ${runtime}: Chromium's WebSocket round-trips text and binary (0 B to 1 MiB) with permessage-deflate, then closes with 4001`, {
        timeout: 60_000,
      }, async () => {
        const app = await startExample("echo/main.ts", [], runtime);
        const page = await browser.newPage();
        try {
          const report: EchoReport = await page.evaluate(
            `(${ECHO_PAGE})(${JSON.stringify(`ws://127.0.0.1:${app.port}/`)})`,
          );
          assert.deepEqual(report.failures, []);
          assert.match(report.extensions, /^permessage-deflate/);
          assert.deepEqual(report.close, { code: 4001, reason: "bye from chromium", wasClean: true });
        } finally {
          await page.close();
          await app.stop();
        }
      });

      it(`chat on ${runtime}: the page's messages reach its room in another tab, and not another room`, {
        timeout: 60_000,
      }, async () => {
        const app = await startExample("chat/main.ts", [], runtime);
        const origin = `http://127.0.0.1:${app.port}`;
        const pages: Page[] = [];
        try {
          const alice = await joinChat(browser, origin, "red", "alice");
          pages.push(alice);
          const bob = await joinChat(browser, origin, "red", "bob");
          pages.push(bob);
          const carol = await joinChat(browser, origin, "blue", "carol");
          pages.push(carol);

          await alice.fill("#text", "hello red");
          await alice.press("#text", "Enter");
          await waitForLine(bob, "alice: hello red");
          await waitForLine(alice, "alice: hello red");
          // Carol's own message comes after alice's was published: had alice's reached her, it would be in her log by then.
          await carol.fill("#text", "hello blue");
          await carol.press("#text", "Enter");
          await waitForLine(carol, "carol: hello blue");
          assert.ok(!(await chatLines(carol)).includes("alice: hello red"));
          assert.ok(!(await chatLines(bob)).includes("carol: hello blue"));
          // Rejoining left the old socket's close behind: the status still shows the live connection.
          assert.equal(await alice.textContent("#status"), "connected to red");
        } finally {
          for (const p of pages) await p.close();
          await app.stop();
        }
      });
    }
  });
}
