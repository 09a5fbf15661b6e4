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
import type { Browser, BrowserContext, Page } from "playwright-core";
import { currentRuntime, type Runtime, root, startExample } from "./example-process.ts";

const CHROMIUM = "/usr/bin/chromium";
const RUNTIMES: Runtime[] = ["node", "deno", "bun"];
/** Plain, and TLS with the transport package's TEST-ONLY certificate (Chromium told to accept it). */
const SCHEMES = [
  { tls: false, http: "http", ws: "ws", flags: [] as string[] },
  {
    tls: true,
    http: "https",
    ws: "wss",
    flags: [
      "--cert",
      `${root}/packages/transport/test/fixtures/test-only-localhost.crt`,
      "--key",
      `${root}/packages/transport/test/fixtures/test-only-localhost.key`,
    ],
  },
];
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
async function joinChat(context: BrowserContext, origin: string, room: string, name: string): Promise<Page> {
  const page = await context.newPage();
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
    let context: BrowserContext;
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
      context = await browser.newContext({ ignoreHTTPSErrors: true });
    });
    after(async () => {
      await browser?.close();
    });

    for (const runtime of RUNTIMES)
      for (const scheme of SCHEMES) {
        it(`echo on ${runtime} over ${scheme.ws}://: Chromium's WebSocket round-trips text and binary (0 B to 1 MiB) with permessage-deflate, then closes with 4001`, {
          timeout: 60_000,
        }, async () => {
          const app = await startExample("echo/main.ts", scheme.flags, runtime);
          const page = await context.newPage();
          try {
            const report: EchoReport = await page.evaluate(
              `(${ECHO_PAGE})(${JSON.stringify(`${scheme.ws}://127.0.0.1:${app.port}/`)})`,
            );
            assert.deepEqual(report.failures, []);
            assert.match(report.extensions, /^permessage-deflate/);
            assert.deepEqual(report.close, { code: 4001, reason: "bye from chromium", wasClean: true });
          } finally {
            await page.close();
            await app.stop();
          }
        });

        it(`chat on ${runtime} over ${scheme.http}://: the page's messages reach its room in another tab, and not another room`, {
          timeout: 60_000,
        }, async () => {
          const app = await startExample("chat/main.ts", scheme.flags, runtime);
          const origin = `${scheme.http}://127.0.0.1:${app.port}`;
          const pages: Page[] = [];
          try {
            const alice = await joinChat(context, origin, "red", "alice");
            pages.push(alice);
            const bob = await joinChat(context, origin, "red", "bob");
            pages.push(bob);
            const carol = await joinChat(context, origin, "blue", "carol");
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
