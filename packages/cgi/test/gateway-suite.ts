/**
 * The same behaviour tests for the CGI (php-cgi) and FastCGI (php-fpm) paths.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  CgiAbortedError,
  type CgiGateway,
  type CgiRequest,
  type CgiResult,
  type CgiSiteHandler,
  createGateway,
} from "../src/index.ts";
import { type Fixture, fixture } from "./php-fixture.ts";

export type Mode = "cgi" | "fastcgi";

interface Got {
  result: CgiResult;
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
  text: string;
  aborted: CgiAbortedError | null;
}

async function run(site: CgiSiteHandler, req: Partial<CgiRequest> & { target: string }): Promise<Got> {
  const result = await site.handle({ method: "GET", headers: [["Host", "example.test:8080"]], ...req });
  if (result.type !== "response") {
    return {
      result,
      status: result.type === "error" ? result.status : 0,
      headers: [],
      body: new Uint8Array(0),
      text: "",
      aborted: null,
    };
  }
  const parts: Uint8Array[] = [];
  let aborted: CgiAbortedError | null = null;
  try {
    for await (const c of result.body) parts.push(c);
  } catch (e) {
    if (!(e instanceof CgiAbortedError)) throw e;
    aborted = e;
  }
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return {
    result,
    status: result.status,
    headers: result.headers,
    body,
    text: new TextDecoder().decode(body),
    aborted,
  };
}

const json = (g: Got) => JSON.parse(g.text);
const header = (g: Got, name: string) => g.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

async function* streamOf(data: Uint8Array, chunk: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
}

export function gatewaySuite(mode: Mode) {
  const logs: string[] = [];
  let fx: Fixture | null = null;
  let gateway: CgiGateway | null = null;
  const sites = new Map<string, CgiSiteHandler>();

  async function setup(): Promise<{ fx: Fixture; php: CgiSiteHandler; short: CgiSiteHandler; shell: CgiSiteHandler }> {
    fx = await fixture(mode, mode === "fastcgi");
    gateway ??= createGateway({ log: (level, msg) => logs.push(`${level}: ${msg}`) });
    const make = (key: string, extra: object) => {
      let s = sites.get(key);
      if (s === undefined) {
        const program =
          mode === "cgi" ? { cgi: { bin: fx!.phpCgi } } : { fastcgi: { address: fx!.fpmSocket, maxConnections: 4 } };
        s = gateway!.site({ root: fx!.root, match: ".php", timeoutMs: 10_000, ...program, ...extra });
        sites.set(key, s);
      }
      return s;
    };
    let shell = sites.get("shell");
    if (shell === undefined) {
      shell = gateway.site({ root: fx.root, match: "/cgi-bin/", cgi: {}, timeoutMs: 500 });
      sites.set("shell", shell);
    }
    return { fx, php: make("php", {}), short: make("short", { timeoutMs: 500 }), shell };
  }

  describe(`${mode}: PHP through the gateway`, () => {
    after(async () => {
      await gateway?.close();
      await fx?.stop();
    });

    it("GET passes the query and the full meta-variable set", async () => {
      const { php, fx } = await setup();
      const g = await run(php, {
        target: "/info.php?a=1&b=two%20words",
        remoteAddress: "10.1.2.3",
        remotePort: 5555,
        localPort: 8080,
        https: true,
        headers: [
          ["Host", "example.test:8080"],
          ["X-Custom", "yes"],
        ],
      });
      assert.equal(g.status, 200);
      const j = json(g);
      assert.deepEqual(j.get, { a: "1", b: "two words" });
      const s = j.server;
      assert.equal(s.REQUEST_METHOD, "GET");
      assert.equal(s.QUERY_STRING, "a=1&b=two%20words");
      assert.equal(s.REQUEST_URI, "/info.php?a=1&b=two%20words");
      assert.equal(s.SCRIPT_NAME, "/info.php");
      assert.equal(s.SCRIPT_FILENAME, join(fx.root, "info.php"));
      assert.equal(s.DOCUMENT_ROOT, fx.root);
      assert.equal(s.SERVER_NAME, "example.test");
      assert.equal(s.SERVER_PORT, "8080");
      assert.equal(s.SERVER_PROTOCOL, "HTTP/1.1");
      assert.equal(s.SERVER_SOFTWARE, "wirehouse");
      assert.equal(s.GATEWAY_INTERFACE, "CGI/1.1");
      assert.equal(s.REMOTE_ADDR, "10.1.2.3");
      assert.equal(s.REMOTE_PORT, "5555");
      assert.equal(s.HTTPS, "on");
      assert.equal(s.REDIRECT_STATUS, "200");
      assert.equal(s.HTTP_X_CUSTOM, "yes");
      assert.equal(s.HTTP_HOST, "example.test:8080");
      assert.equal(header(g, "content-type")[0], "application/json");
    });

    it("POST urlencoded fills $_POST", async () => {
      const { php } = await setup();
      const body = new TextEncoder().encode("name=Ada+Lovelace&n=3");
      const g = await run(php, {
        method: "POST",
        target: "/info.php",
        headers: [
          ["Host", "h"],
          ["Content-Type", "application/x-www-form-urlencoded"],
          ["Content-Length", String(body.length)],
        ],
        body,
      });
      assert.equal(g.status, 200);
      assert.deepEqual(json(g).post, { name: "Ada Lovelace", n: "3" });
      assert.equal(json(g).server.CONTENT_LENGTH, String(body.length));
    });

    it("POST multipart uploads a file (streamed body)", async () => {
      const { php } = await setup();
      const file = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
      const enc = new TextEncoder();
      const b = "----wirehouse-boundary";
      const parts = [
        enc.encode(`--${b}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n`),
        enc.encode(
          `--${b}\r\nContent-Disposition: form-data; name="f"; filename="data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        ),
        file,
        enc.encode(`\r\n--${b}--\r\n`),
      ];
      const total = parts.reduce((n, p) => n + p.length, 0);
      async function* body() {
        for (const p of parts) yield* streamOf(p, 10_000);
      }
      const g = await run(php, {
        method: "POST",
        target: "/info.php",
        headers: [
          ["Content-Type", `multipart/form-data; boundary=${b}`],
          ["Content-Length", String(total)],
        ],
        body: body(),
      });
      const j = json(g);
      assert.equal(j.post.title, "hello");
      assert.equal(j.files.f.name, "data.bin");
      assert.equal(j.files.f.size, file.length);
      assert.equal(j.files.f.md5, createHash("md5").update(file).digest("hex"));
    });

    it("a body of unknown length (chunked) is buffered and gets an exact CONTENT_LENGTH", async () => {
      const { php } = await setup();
      const data = new Uint8Array(100_000).fill(65);
      const g = await run(php, { method: "POST", target: "/echo.php", body: streamOf(data, 4096) });
      assert.equal(g.text, `100000 ${createHash("md5").update(data).digest("hex")}`);
    });

    it("a request body larger than the pipe buffer streams through with backpressure", async () => {
      const { php } = await setup();
      const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
      const g = await run(php, {
        method: "POST",
        target: "/echo.php",
        headers: [
          ["Content-Type", "application/octet-stream"],
          ["Content-Length", String(data.length)],
        ],
        body: streamOf(data, 65536),
      });
      assert.equal(g.status, 200);
      assert.equal(g.text, `${data.length} ${createHash("md5").update(data).digest("hex")}`);
    });

    it("cookies both ways", async () => {
      const { php } = await setup();
      const g = await run(php, {
        target: "/info.php",
        headers: [
          ["Cookie", "a=1; b=two"],
          ["Cookie", "c=3"],
        ],
      });
      assert.deepEqual(json(g).cookie, { a: "1", b: "two", c: "3" });
      assert.deepEqual(header(g, "set-cookie"), ["srv=from-php", "second=two"]);
    });

    it("client redirect: Location with 302", async () => {
      const { php } = await setup();
      const g = await run(php, { target: "/redirect.php?to=https://example.org/x" });
      assert.equal(g.status, 302);
      assert.deepEqual(header(g, "location"), ["https://example.org/x"]);
    });

    it("local redirect: Location path without a Status is handed back to the server", async () => {
      const { php } = await setup();
      const r = await php.handle({ method: "GET", target: "/redirect.php?local=1", headers: [] });
      assert.deepEqual(r, { type: "local-redirect", location: "/info.php?via=local" });
      const e = await php.exec("/redirect.php", { query: "local=1" });
      assert.equal(e.status, 200);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(e.body)).get, { via: "local" });
    });

    it("custom status codes and headers", async () => {
      const { php } = await setup();
      for (const code of [201, 404, 418, 503]) {
        const g = await run(php, { target: `/status.php?code=${code}` });
        assert.equal(g.status, code);
        assert.deepEqual(header(g, "x-answer"), ["42"]);
        assert.equal(g.text, "status page");
      }
    });

    it("a 5 MiB response streams in pieces", async () => {
      const { php } = await setup();
      const r = await php.handle({ method: "GET", target: "/big.php", headers: [] });
      assert.equal(r.type, "response");
      if (r.type !== "response") return;
      assert.equal(r.body.length, null);
      let size = 0;
      let chunks = 0;
      for await (const c of r.body) {
        size += c.length;
        chunks++;
      }
      assert.equal(size, 5 * 1024 * 1024);
      assert.ok(chunks > 1, `expected several chunks, got ${chunks}`);
    });

    it("PATH_INFO and PATH_TRANSLATED", async () => {
      const { php, fx } = await setup();
      const g = await run(php, { target: "/app.php/extra/path%20x" });
      assert.equal(g.text, `/app.php|/extra/path x|${join(fx.root, "extra/path x")}`);
      const plain = await run(php, { target: "/app.php" });
      assert.equal(plain.text, "/app.php||");
    });

    it("index files and refused paths", async () => {
      const { php } = await setup();
      assert.equal((await run(php, { target: "/sub/" })).text, "index of sub");
      assert.equal((await run(php, { target: "/sub" })).text, "index of sub");
      assert.equal((await run(php, { target: "/missing.php" })).status, 404);
      assert.equal((await run(php, { target: "/.hidden.php" })).status, 404);
      // Dot segments are resolved inside the root (the router's normaliser), never above it.
      assert.equal((await run(php, { target: "/sub/../status.php" })).status, 200);
      assert.equal((await run(php, { target: "/%2e%2e/secret.php" })).status, 404);
      assert.equal((await run(php, { target: "/a%2fb.php" })).status, 400);
      assert.equal((await run(php, { target: "/x.php", path: "/../secret.php" })).status, 404);
      assert.equal((await run(php, { target: "/escape.php" })).status, 403);
    });

    it("httpoxy: a Proxy header never becomes HTTP_PROXY", async () => {
      const { php } = await setup();
      const g = await run(php, {
        target: "/info.php",
        headers: [
          ["Proxy", "http://evil.example:3128"],
          ["X_Custom", "spoofed underscore"],
        ],
      });
      const j = json(g);
      assert.equal(j.server.HTTP_PROXY, undefined);
      assert.equal(j.env_proxy, false);
      assert.equal(j.server.HTTP_X_CUSTOM, undefined);
    });

    it("stderr goes to the log", async () => {
      const { php } = await setup();
      const g = await run(php, { target: "/stderr.php" });
      assert.equal(g.text, "ok");
      assert.ok(
        logs.some((l) => l.includes("note from stderr.php")),
        logs.join("\n"),
      );
    });

    it("a script sleeping past the timeout gives 504", async () => {
      const { short } = await setup();
      const g = await run(short, { target: "/sleep.php" });
      assert.equal(g.status, 504);
      assert.equal(g.result.type, "error");
      assert.ok(logs.some((l) => l.includes("sleep.php") && l.includes("500 ms")));
    });

    it("a timeout after the head aborts the body (the server must cut the connection)", async () => {
      const { short } = await setup();
      const g = await run(short, { target: "/sleep-mid.php" });
      assert.equal(g.status, 200);
      assert.ok(g.aborted instanceof CgiAbortedError);
      assert.equal(g.aborted.reason, "timeout");
    });

    it("a crashing program gives 502 with a log line", async () => {
      const { php } = await setup();
      const g = await run(php, { target: "/crash.php" });
      assert.equal(g.status, 502);
      assert.equal(g.result.type, "error");
      assert.ok(
        logs.some((l) => l.startsWith("error:") && l.includes("crash.php")),
        logs.join("\n"),
      );
    });

    it("a crash mid-body aborts the body", async () => {
      const { php } = await setup();
      const g = await run(php, { target: "/crash.php?mid=1" });
      // The head may or may not have been flushed before the kill; never a clean response.
      if (g.result.type === "response") assert.ok(g.aborted instanceof CgiAbortedError);
      else assert.equal(g.status, 502);
    });

    it("50 concurrent requests", async () => {
      const { php } = await setup();
      const all = await Promise.all(Array.from({ length: 50 }, (_, i) => run(php, { target: `/info.php?i=${i}` })));
      all.forEach((g, i) => {
        assert.equal(g.status, 200);
        assert.equal(json(g).get.i, String(i));
      });
    });

    const fastcgiOnly = mode === "fastcgi" ? it : () => {};
    fastcgiOnly("pipelined requests on kept connections (FastCGI pipeline 2) each get their own answer", async () => {
      const { fx } = await setup();
      const site = gateway!.site({
        root: fx.root,
        match: ".php",
        fastcgi: { address: fx.fpmSocket, maxConnections: 2, pipeline: 2 },
      });
      const enc = new TextEncoder();
      const all = await Promise.all(
        Array.from({ length: 30 }, (_, i) => {
          if (i % 2 === 0) return run(site, { target: `/info.php?i=${i}` });
          const body = enc.encode(`payload-${i}-`.repeat(i * 100));
          return run(site, {
            method: "POST",
            target: "/echo.php",
            headers: [["Content-Length", String(body.length)]],
            body: streamOf(body, 1000),
          });
        }),
      );
      for (const [i, g] of all.entries()) {
        assert.equal(g.status, 200);
        if (i % 2 === 0) assert.equal(json(g).get.i, String(i));
        else {
          const body = enc.encode(`payload-${i}-`.repeat(i * 100));
          assert.equal(g.text, `${body.length} ${createHash("md5").update(body).digest("hex")}`);
        }
      }
    });

    fastcgiOnly("a request pipelined behind one that crashes or is cancelled moves to another connection", async () => {
      const { fx } = await setup();
      const site = gateway!.site({
        root: fx.root,
        match: ".php",
        fastcgi: { address: fx.fpmSocket, maxConnections: 1, pipeline: 2 },
      });
      const [crashed, queued] = await Promise.all([
        run(site, { target: "/crash.php" }),
        run(site, { target: "/status.php?code=203" }),
      ]);
      assert.equal(crashed.status, 502);
      assert.equal(queued.status, 203);
      const head = site.handle({ method: "GET", target: "/big.php", headers: [] });
      const behind = run(site, { target: "/status.php?code=206" });
      const r = await head;
      assert.equal(r.type, "response");
      if (r.type === "response") for await (const _ of r.body) break;
      assert.equal((await behind).status, 206);
    });

    fastcgiOnly("a kept connection the peer closed after its last request is retried for a GET", async () => {
      const { fx } = await setup();
      const site = gateway!.site({
        root: fx.root,
        match: ".php",
        fastcgi: { address: fx.recycleSocket, maxConnections: 1 },
      });
      for (let i = 0; i < 6; i++) {
        const g = await run(site, { target: `/status.php?code=${200 + i}` });
        assert.equal(g.status, 200 + i);
      }
    });

    it("exec() runs a script for a websocket message", async () => {
      const { php } = await setup();
      const r = await php.exec("/info.php", {
        method: "POST",
        query: { room: "lobby" },
        body: "text=hi+there",
        headers: { Cookie: "user=ada" },
      });
      assert.equal(r.status, 200);
      const j = JSON.parse(new TextDecoder().decode(r.body));
      assert.deepEqual(j.get, { room: "lobby" });
      assert.deepEqual(j.post, { text: "hi there" });
      assert.deepEqual(j.cookie, { user: "ada" });
      assert.equal(j.server.REQUEST_METHOD, "POST");
      assert.equal((await php.exec("/nope.php")).status, 404);
      const slow = await (await setup()).short.exec("/sleep.php");
      assert.equal(slow.status, 504);
    });

    it("a cancelled body stops the program", async () => {
      const { php } = await setup();
      const r = await php.handle({ method: "GET", target: "/big.php", headers: [] });
      assert.equal(r.type, "response");
      if (r.type !== "response") return;
      for await (const _ of r.body) break;
      // The next requests still work (FastCGI: the aborted connection was not reused).
      const g = await run(php, { target: "/status.php?code=202" });
      assert.equal(g.status, 202);
    });
  });
}

export function missingProgramTests() {
  describe("CGI errors", () => {
    const logs: string[] = [];
    let fx: Fixture | null = null;
    const gateway = createGateway({ log: (level, msg) => logs.push(`${level}: ${msg}`) });
    after(async () => {
      await gateway.close();
      await fx?.stop();
    });

    it("a missing interpreter gives 502 and says so", async () => {
      fx = await fixture("errors", false);
      const site = gateway.site({ root: fx.root, match: ".php", cgi: { bin: "/nonexistent/php-cgi" } });
      const g = await run(site, { target: "/info.php" });
      assert.equal(g.status, 502);
      assert.ok(
        logs.some((l) => l.includes("/nonexistent/php-cgi not found")),
        logs.join("\n"),
      );
    });

    it("a FastCGI address nobody listens on gives 502", async () => {
      fx = await fixture("errors", false);
      const site = gateway.site({ root: fx.root, match: ".php", fastcgi: { address: join(fx.dir, "nobody.sock") } });
      const g = await run(site, { target: "/info.php" });
      assert.equal(g.status, 502);
      assert.ok(
        logs.some((l) => l.includes("cannot reach FastCGI server")),
        logs.join("\n"),
      );
    });

    it("plain CGI programs: LF line ends, local redirect, malformed output, signals, grandchildren", async () => {
      fx = await fixture("errors", false);
      const site = gateway.site({ root: fx.root, match: "/cgi-bin/", cgi: {}, timeoutMs: 500 });
      const lf = await run(site, { target: "/cgi-bin/lf.sh" });
      assert.equal(lf.status, 201);
      assert.equal(lf.text, "lf-body");
      assert.deepEqual(lf.headers, [
        ["Content-Type", "text/plain"],
        ["X-A", "1"],
      ]);
      assert.deepEqual((await run(site, { target: "/cgi-bin/local.sh" })).result, {
        type: "local-redirect",
        location: "/info.php?via=shell",
      });
      assert.equal((await run(site, { target: "/cgi-bin/malformed.sh" })).status, 502);
      assert.equal((await run(site, { target: "/cgi-bin/nohead.sh" })).status, 502);
      assert.equal((await run(site, { target: "/cgi-bin/segv.sh" })).status, 502);
      assert.equal((await run(site, { target: "/cgi-bin/noexec.sh" })).status, 403);
      assert.equal((await run(site, { target: "/cgi-bin/" })).status, 404);
      // The timeout kills the whole process group, grandchildren included, so the body ends.
      const gc = await run(site, { target: "/cgi-bin/grandchild.sh" });
      assert.equal(gc.aborted?.reason, "timeout");
      assert.ok(logs.some((l) => l.includes("malformed response header line")));
    });
  });
}
