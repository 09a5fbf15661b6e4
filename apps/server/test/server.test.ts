import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type App, originForm } from "../src/app.ts";
import { defaultConfig } from "../src/cli.ts";
import { resolveConfig } from "../src/config.ts";
import { Client, get, startApp } from "./helpers.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

describe("default site over loopback", () => {
  let app: App;
  let port: number;
  let lines: string[];
  before(async () => {
    ({ app, port, lines } = await startApp(defaultConfig()));
  });
  after(async () => {
    await app.close();
  });

  it("serves the index page with the safe default headers", async () => {
    const r = await get(port, "/");
    assert.equal(r.status, 200);
    assert.match(r.body, /<a href="\/chat.html">/);
    assert.match(r.body, /<a href="\/demo.sjs">/);
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    assert.equal(r.headers["x-frame-options"], "SAMEORIGIN");
    assert.equal(r.headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert.match(String(r.headers["content-type"]), /^text\/html/);
  });

  it("renders the page-script demo, escaping output", async () => {
    const r = await get(port, "/demo.sjs?name=%3Cscript%3E");
    assert.equal(r.status, 200);
    assert.match(r.body, /<h1>Hello, &lt;script&gt;!<\/h1>/);
    assert.match(r.body, /<li>page scripts<\/li>/);
    assert.match(r.body, /Two plus two is 4/);
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(r.headers["x-content-type-options"], "nosniff");
  });

  it("answers HEAD of a page script with the length of what it rendered, without the body", async () => {
    const got = await get(port, "/demo.sjs?name=Ada");
    const head = await get(port, "/demo.sjs?name=Ada", "localhost", "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    // The script runs for HEAD too (it sees the method, and the demo prints it), as PHP scripts do.
    assert.match(got.body, /for GET \/demo\.sjs/);
    const rendered = got.body.replace("for GET /demo.sjs", "for HEAD /demo.sjs");
    assert.equal(head.headers["content-length"], String(Buffer.byteLength(rendered)));
    assert.equal(head.headers["content-type"], got.headers["content-type"]);
  });

  it("answers 404 for a missing file and never serves websocket scripts as files", async () => {
    assert.equal((await get(port, "/nope.html")).status, 404);
    assert.equal((await get(port, "/scripts/chat.js")).status, 404);
    assert.equal((await get(port, "/../scripts/chat.js")).status, 404);
  });

  it("serves absolute-form request targets as their path (the host from the target), and OPTIONS * with 204", async () => {
    const abs = await get(port, "http://abs.test:8080/demo.sjs?name=Ada", "other.test");
    assert.equal(abs.status, 200);
    assert.match(abs.body, /<h1>Hello, Ada!<\/h1>/);
    const root = await get(port, "http://abs.test?x=1");
    assert.equal(root.status, 200);
    assert.match(root.body, /<a href="\/chat.html">/);
    const line = lines.find((l) => l.includes(" /demo.sjs ") && l.includes("abs.test"));
    assert.match(line ?? "", /^GET abs\.test:8080 \/demo\.sjs 200 /);
    const options = await get(port, "*", "localhost", "OPTIONS");
    assert.equal(options.status, 204);
    assert.equal(options.body, "");
  });

  it("a plain GET of /chat is redirected by the script's onRequest", async () => {
    const r = await get(port, "/chat");
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, "/chat.html");
  });

  it("writes one access-log line per request", async () => {
    await get(port, "/style.css", "log.test");
    const line = lines.find((l) => l.includes(" /style.css "));
    assert.match(line ?? "", /^GET log\.test \/style\.css 200 \d+ [\d.]+ms$/);
  });

  it("/echo echoes text and binary with permessage-deflate", async () => {
    const c = new Client(`ws://127.0.0.1:${port}/echo`);
    await c.opened;
    assert.match(c.ws.extensions, /permessage-deflate/);
    c.ws.send("hello");
    const t = await c.next();
    assert.deepEqual(t, { data: "hello", binary: false });
    c.ws.send(new Uint8Array([0, 1, 2, 255]));
    const b = await c.next();
    assert.equal(b.binary, true);
    assert.deepEqual([...(b.data as Buffer)], [0, 1, 2, 255]);
    const big = "x".repeat(100_000);
    c.ws.send(big);
    assert.equal((await c.next()).data, big);
    await c.close();
  });

  it("/chat broadcasts a message from one client to the other", async () => {
    const a = new Client(`ws://127.0.0.1:${port}/chat?name=ann`);
    await a.opened;
    await a.nextMatching(/ann joined/);
    const b = new Client(`ws://127.0.0.1:${port}/chat?name=bob`);
    await b.opened;
    await a.nextMatching(/bob joined/);
    a.ws.send("hi bob");
    assert.equal(await b.nextMatching(/^ann:/), "ann: hi bob");
    assert.equal(await a.nextMatching(/^ann:/), "ann: hi bob");
    await b.close();
    assert.equal(await a.nextMatching(/bob left/), "* bob left");
    await a.close();
  });

  it("refuses a websocket upgrade on a path without a websocket route", async () => {
    const c = new Client(`ws://127.0.0.1:${port}/nowhere`);
    await assert.rejects(c.opened, /404/);
  });
});

describe("multi-host routing", () => {
  let app: App;
  let port: number;
  before(async () => {
    const config = resolveConfig(
      {
        sites: {
          a: {
            root: "./site-a",
            hosts: ["a.test"],
            aliases: ["www.a.test"],
            websockets: { "/chat": "chat.js" },
            redirects: { "/old": "/new", "/docs/*": { to: "/manual/", status: 301 } },
            statusPages: { 404: "/404.html" },
            headers: { "X-Frame-Options": "DENY", "X-Site": "a" },
            mime: { ".md": "text/markdown; charset=utf-8" },
            paths: { "/home": "/index.html" },
          },
          b: { root: "./site-b", hosts: ["b.test"], default: true },
        },
      },
      "test",
      fixtures,
    );
    ({ app, port } = await startApp(config));
  });
  after(async () => {
    await app.close();
  });

  it("answers two sites on one port by Host header", async () => {
    const a = await get(port, "/", "a.test");
    assert.match(a.body, /site A/);
    assert.equal(a.headers["x-site"], "a");
    assert.equal(a.headers["x-frame-options"], "DENY");
    assert.match((await get(port, "/", "www.a.test:8080")).body, /site A/);
    assert.match((await get(port, "/", "A.TEST")).body, /site A/);
    const b = await get(port, "/", "b.test");
    assert.match(b.body, /<h1>site B page<\/h1>/);
    assert.equal(b.headers["x-site"], undefined);
    assert.equal(b.headers["x-frame-options"], "SAMEORIGIN");
  });

  it("sends unknown hosts to the default site", async () => {
    assert.match((await get(port, "/", "unknown.test")).body, /site B page/);
  });

  it("redirects, aliases, MIME overrides and custom status pages", async () => {
    const r = await get(port, "/old", "a.test");
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, "/new");
    const p = await get(port, "/docs/x/y?z=1", "a.test");
    assert.equal(p.status, 301);
    assert.equal(p.headers.location, "/manual/x/y?z=1");
    assert.match((await get(port, "/home", "a.test")).body, /site A/);
    const md = await get(port, "/notes.md", "a.test");
    assert.equal(md.headers["content-type"], "text/markdown; charset=utf-8");
    const missing = await get(port, "/missing", "a.test");
    assert.equal(missing.status, 404);
    assert.match(missing.body, /missing in A/);
    assert.equal(missing.headers["x-content-type-options"], "nosniff");
    // A page path is rendered without a directory check first: a missing page still gets the
    // site's 404 page, and a directory named like a page still redirects to its index.
    const missingPage = await get(port, "/nothing.sjs", "a.test");
    assert.equal(missingPage.status, 404);
    assert.match(missingPage.body, /missing in A/);
    const folder = await get(port, "/folder.sjs?x=1", "a.test");
    assert.equal(folder.status, 301);
    assert.equal(folder.headers.location, "/folder.sjs/?x=1");
    assert.match((await get(port, "/folder.sjs/", "a.test")).body, /folder index/);
  });

  it("routes websocket paths per host", async () => {
    const c = new Client(`ws://127.0.0.1:${port}/chat`, { headers: { host: "a.test" } });
    await c.opened;
    c.ws.send("ping");
    assert.equal((await c.next()).data, "ping");
    await c.close();
    const d = new Client(`ws://127.0.0.1:${port}/chat`, { headers: { host: "b.test" } });
    await assert.rejects(d.opened, /404/);
  });

  it("reload swaps sites and keeps an established websocket open", async () => {
    const c = new Client(`ws://127.0.0.1:${port}/chat`, { headers: { host: "a.test" } });
    await c.opened;
    const next = resolveConfig(
      {
        sites: {
          a: { root: "./site-a", hosts: ["a.test"], websockets: { "/chat": "chat.js" } },
          b: { root: "./site-b", hosts: ["b.test"] },
        },
        defaultSite: "a",
      },
      "test",
      fixtures,
    );
    await app.reload(next);
    assert.match((await get(port, "/", "unknown.test")).body, /site A/);
    c.ws.send("still here");
    assert.equal((await c.next()).data, "still here");
    await c.close();
  });
});

describe("originForm", () => {
  it("keeps origin-form targets and reduces absolute-form ones to path and query", () => {
    assert.equal(originForm("/a/b?c=1"), "/a/b?c=1");
    assert.equal(originForm("*"), "*");
    assert.equal(originForm("http://h/a/b?c=1"), "/a/b?c=1");
    assert.equal(originForm("HTTPS://h:8443/"), "/");
    assert.equal(originForm("http://h"), "/");
    assert.equal(originForm("http://h?q=/x"), "/?q=/x");
    assert.equal(originForm("ws://user@h:1/p"), "/p");
  });
});
