/**
 * examples/php-chat: started as a child process of the same runtime (port 0), over
 * FastCGI (php-fpm) and CGI (php-cgi, `--cgi`): a PHP page with request data and a
 * cookie, a websocket on /chat, and post.php publishing to it through the server.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { connect } from "@wirehouse/server";
import { phpCgiBin, phpFpmBin } from "./php-fixture.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const g = globalThis as { Deno?: { execPath(): string }; Bun?: unknown };

function command(extra: string[]): [string, string[]] {
  const path = join(root, "examples", "php-chat", "main.ts");
  const flags = [path, "--port", "0", "--host", "127.0.0.1", ...extra];
  if (g.Deno) return [g.Deno.execPath(), ["run", "-A", ...flags]];
  if (g.Bun) return [process.execPath, flags];
  return [process.execPath, ["--import", "tsx", ...flags]];
}

interface Running {
  port: number;
  stop: () => Promise<void>;
}

function start(extra: string[]): Promise<Running> {
  const [cmd, args] = command(extra);
  const child: ChildProcess = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  };
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`php-chat not ready after 20 s: ${out} ${err}`));
      void stop();
    }, 20_000);
    child.stderr?.on("data", (d) => (err += String(d)));
    child.stdout?.on("data", (d) => {
      out += String(d);
      const m = /ready port=(\d+) pid=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ port: Number(m[1]), stop });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`php-chat exited (${code}) before ready: ${out} ${err}`));
    });
  });
}

/** Rejects after `ms` so a lost message fails the test instead of hanging it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

for (const mode of ["fastcgi", "cgi"] as const) {
  describe(`examples/php-chat (${mode})`, () => {
    it("serves PHP with request data and cookies, and post.php reaches websocket clients", async () => {
      // Fail clearly (never skip) when the PHP binaries are missing.
      if (mode === "fastcgi") phpFpmBin();
      else phpCgiBin();
      const app = await start(mode === "cgi" ? ["--cgi"] : []);
      const base = `http://127.0.0.1:${app.port}`;
      let ws: Awaited<ReturnType<typeof connect>> | undefined;
      try {
        // The page: $_GET and $_COOKIE values escaped, $_SERVER keys, a cookie set.
        const page = await fetch(`${base}/index.php?q=%3Cb%3Ebold%3C%2Fb%3E&n=7`, {
          headers: { cookie: "flavour=<i>mint</i>; visits=41" },
        });
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-type") ?? "", /text\/html/);
        assert.match(page.headers.get("set-cookie") ?? "", /^visits=42;/);
        const html = await page.text();
        assert.match(html, /<th>q<\/th><td>&lt;b&gt;bold&lt;\/b&gt;<\/td>/);
        assert.match(html, /<th>n<\/th><td>7<\/td>/);
        assert.match(html, /<th>flavour<\/th><td>&lt;i&gt;mint&lt;\/i&gt;<\/td>/);
        assert.doesNotMatch(html, /<b>bold/);
        assert.match(html, /<th>REQUEST_METHOD<\/th><td>GET<\/td>/);
        assert.match(html, new RegExp(`<th>SERVER_PORT</th><td>${app.port}</td>`));
        assert.match(html, mode === "cgi" ? /cgi-fcgi|, cgi/ : /fpm-fcgi/);

        // POST to the page: $_POST shown.
        const posted = await fetch(`${base}/index.php`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "field=a%26b",
        });
        assert.equal(posted.status, 200);
        assert.match(await posted.text(), /<th>field<\/th><td>a&amp;b<\/td>/);

        // "/" runs index.php; the client page is served from the same port.
        assert.equal((await fetch(`${base}/`)).status, 200);
        assert.match(await (await fetch(`${base}/chat.html`)).text(), /new WebSocket/);

        // A websocket on /chat, then a message posted to PHP comes back over it.
        const received: string[] = [];
        let notify: () => void = () => {};
        ws = await within(
          connect(`ws://127.0.0.1:${app.port}/chat`, {
            handler: {
              message(_ws, data) {
                received.push(String(data));
                notify();
              },
            },
          }),
          10_000,
          "the websocket to open",
        );
        const got = new Promise<void>((r) => (notify = r));
        const res = await fetch(`${base}/post.php`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "name=ann&message=hello%20%3Cworld%3E",
        });
        assert.equal(res.status, 200, await res.clone().text());
        assert.deepEqual(await res.json(), { ok: true, from: "ann", text: "hello <world>" });
        await within(got, 10_000, "the published message");
        assert.deepEqual(
          received.map((m) => JSON.parse(m)),
          [{ from: "ann", text: "hello <world>" }],
        );

        // post.php without a message: 400, nothing published.
        const empty = await fetch(`${base}/post.php`, { method: "POST", body: new URLSearchParams({ message: "" }) });
        assert.equal(empty.status, 400);
        await empty.arrayBuffer();

        // The internal endpoint takes POST only; a missing script is 404.
        const get = await fetch(`${base}/internal/publish`);
        assert.equal(get.status, 405);
        await get.arrayBuffer();
        const missing = await fetch(`${base}/nope.php`);
        assert.equal(missing.status, 404);
        await missing.arrayBuffer();
        assert.equal(received.length, 1);
      } finally {
        ws?.close();
        await app.stop();
      }
    });
  });
}
