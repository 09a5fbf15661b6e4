import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type AccessLogEntry, createServer } from "../src/index.ts";
import { rawExchange, rawSocket, withServer } from "./helpers.ts";

const GET = (path: string, host = "127.0.0.1", extra = "") => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
const count = (s: string, sub: string) => s.split(sub).length - 1;

describe("HTTP", () => {
  it("answers pipelined requests strictly in order, the slow one first", async () => {
    await withServer(
      (s) => {
        s.http("/slow", () => new Promise((r) => setTimeout(() => r({ body: "slow" }), 30)));
        s.http("/fast/:n", (req) => ({ body: `fast${req.params.n}` }));
      },
      async (port) => {
        const req =
          GET("/slow") + GET("/fast/1") + GET("/fast/2") + GET("/fast/3", "127.0.0.1", "Connection: close\r\n");
        const out = await rawExchange(port, req);
        assert.equal(count(out, "HTTP/1.1 200"), 4);
        const order = [...out.matchAll(/\r\n\r\n(slow|fast\d)/g)].map((m) => m[1]);
        assert.deepEqual(order, ["slow", "fast1", "fast2", "fast3"]);
      },
    );
  });

  it("logs each request's real duration, not the timer wheel's 50 ms ticks", async () => {
    const entries: AccessLogEntry[] = [];
    await withServer(
      (s) => {
        s.http("/wait", () => new Promise((r) => setTimeout(() => r({ body: "waited" }), 30)));
        s.http("/now", () => ({ body: "now" }));
      },
      async (port) => {
        await rawExchange(port, GET("/wait") + GET("/now", "127.0.0.1", "Connection: close\r\n"));
      },
      { log: (e) => entries.push(e) },
    );
    assert.deepEqual(
      entries.map((e) => e.path),
      ["/wait", "/now"],
    );
    const [wait, now] = entries as [AccessLogEntry, AccessLogEntry];
    // The handler waited 30 ms (timers may fire up to 1 ms early on some runtimes).
    assert.ok(wait.durationMs >= 29, `logged ${wait.durationMs} ms for a 30 ms handler`);
    // A clock of 50 ms ticks gives only multiples of 50 (0 or 50 here).
    assert.notEqual(wait.durationMs % 50, 0, `logged ${wait.durationMs} ms: a tick count`);
    assert.ok(now.durationMs >= 0 && now.durationMs < wait.durationMs + 1000);
  });

  it("answers a plain request to a websocket path with 426, or with the endpoint's request handler", async () => {
    await withServer(
      (s) => {
        s.websocket("/bare", {});
        s.websocket("/chat", {
          request: (req) => ({
            status: 302,
            headers: { Location: `/chat.html${req.rawQuery ? `?${req.rawQuery}` : ""}` },
          }),
        });
      },
      async (port) => {
        const out = await rawExchange(port, GET("/bare") + GET("/chat?room=1", "127.0.0.1", "Connection: close\r\n"));
        assert.match(out, /^HTTP\/1\.1 426 /);
        assert.match(out, /Upgrade RequiredHTTP\/1\.1 302 [\s\S]*\r\nLocation: \/chat\.html\?room=1\r\n/i);
      },
    );
  });

  it("takes absolute-form targets (the host from the target) and answers OPTIONS * with 204, in order", async () => {
    await withServer(
      (s) => s.http("/*", (req) => `${req.host} ${req.path} ${req.rawQuery} ${req.url}`),
      async (port) => {
        const out = await rawExchange(
          port,
          "GET http://example.test:8080/a/b?x=1 HTTP/1.1\r\nHost: other.test\r\n\r\n" +
            "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc" +
            GET("/after", "127.0.0.1", "Connection: close\r\n"),
        );
        const responses = out.split(/(?=HTTP\/1\.1 )/);
        assert.equal(responses.length, 3, out);
        assert.match(responses[0]!, /^HTTP\/1\.1 200 /);
        assert.ok(
          responses[0]!.endsWith("\r\n\r\nexample.test:8080 /a/b x=1 http://example.test:8080/a/b?x=1"),
          responses[0],
        );
        assert.match(responses[1]!, /^HTTP\/1\.1 204 No Content\r\n/);
        assert.ok(responses[1]!.endsWith("\r\n\r\n"), "no body");
        assert.ok(responses[2]!.endsWith("\r\n\r\n127.0.0.1 /after  /after"), responses[2]);
        // Asterisk-form is for OPTIONS only.
        assert.match(await rawExchange(port, "GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), /^HTTP\/1\.1 400 /);
      },
    );
  });

  it("sends byte bodies and stream pieces over the transport's 16 MiB write-buffer limit whole, pipelined answers after them in order", async () => {
    const big = new Uint8Array(20 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
    await withServer(
      (s) => {
        s.http("/big", () => ({ body: big }));
        s.http("/text", () => "t".repeat(17 * 1024 * 1024));
        s.http("/small", () => "small");
        s.http("/stream", () => ({
          body: (async function* () {
            yield big.subarray(0, 10);
            yield big; // one piece over the transport's limit: sliced inside its chunk
            yield big.subarray(10, 20);
          })(),
        }));
      },
      async (port) => {
        const got = new Uint8Array(await (await fetch(`http://127.0.0.1:${port}/big`)).arrayBuffer());
        assert.equal(got.length, big.length);
        assert.ok(got.every((b, i) => b === big[i]));
        const streamed = new Uint8Array(await (await fetch(`http://127.0.0.1:${port}/stream`)).arrayBuffer());
        assert.equal(streamed.length, big.length + 20);
        assert.ok(streamed.subarray(10, 10 + big.length).every((b, i) => b === big[i]));
        assert.equal((await (await fetch(`http://127.0.0.1:${port}/text`)).text()).length, 17 * 1024 * 1024);
        const out = await rawExchange(
          port,
          GET("/big") + GET("/big", "127.0.0.1", "") + GET("/small", "127.0.0.1", "Connection: close\r\n"),
        );
        const heads = [...out.matchAll(/HTTP\/1\.1 200 OK\r\n/g)].map((m) => m.index);
        assert.equal(heads.length, 3);
        assert.ok(out.endsWith("\r\n\r\nsmall"));
        assert.equal(out.length - out.indexOf("\r\n\r\nsmall"), 4 + 5);
        const bodyLength = (from: number, to: number) => to - (out.indexOf("\r\n\r\n", from) + 4);
        assert.equal(bodyLength(heads[0]!, heads[1]!), big.length);
        assert.equal(bodyLength(heads[1]!, heads[2]!), big.length);
      },
    );
  });

  it("keeps HTTP/1.1 connections alive and closes HTTP/1.0 ones", async () => {
    await withServer(
      (s) => s.http("/", () => "ok"),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(GET("/"));
        await raw.waitFor((b) => b.toString().endsWith("ok"));
        raw.socket.write(GET("/"));
        const two = await raw.waitFor((b) => count(b.toString(), "\r\n\r\nok") === 2);
        assert.match(two.toString(), /content-length: 2/i);
        raw.socket.destroy();
        const out = await rawExchange(port, "GET / HTTP/1.0\r\n\r\n");
        assert.match(out, /^HTTP\/1\.1 200/);
        assert.ok(out.endsWith("ok"));
      },
    );
  });

  it("reads request bodies (length and chunked) and refuses bodies over maxBodySize with 413", async () => {
    await withServer(
      (s) => s.http("/echo", async (req) => ({ body: `${req.method} ${(await req.text()).length}` })),
      async (port) => {
        const body = "x".repeat(5000);
        const out = await rawExchange(
          port,
          `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
            `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`,
        );
        assert.ok(out.includes("POST 5000"));
        assert.ok(out.includes("POST 5"));
        const big = await rawExchange(port, `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n`);
        assert.match(big, /^HTTP\/1\.1 413/);
      },
      { limits: { maxBodySize: 10_000 } },
    );
  });

  it("streams request bodies to the handler as they arrive (a full-duplex echo)", async () => {
    await withServer(
      (s) => s.http("/duplex", (req) => ({ body: req.bodyStream() })),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write("POST /duplex HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
        // The first piece comes back while the request body is still open.
        await raw.waitFor((b) => b.toString().includes("first"));
        raw.socket.write("6\r\nsecond\r\n0\r\n\r\n");
        const out = await raw.waitFor((b) => b.toString().endsWith("0\r\n\r\n"));
        assert.match(out.toString(), /first[\s\S]*second/);
        // keep-alive: the next request on the same connection works
        raw.socket.write(GET("/duplex", "a", "Connection: close\r\n"));
        const end = await raw.ended;
        assert.equal(count(end.toString(), "HTTP/1.1 200"), 2);
      },
    );
  });

  it("reads and discards the body of a request answered early, then serves the next one", async () => {
    await withServer(
      (s) => {
        s.http("/early", () => ({ status: 202, body: "early" }));
        s.http("/next", () => "next");
      },
      async (port) => {
        const body = "z".repeat(50_000);
        const out = await rawExchange(
          port,
          `POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}${GET("/next", "a", "Connection: close\r\n")}`,
        );
        assert.match(out, /^HTTP\/1\.1 202/);
        assert.ok(out.endsWith("next"));
        assert.equal(count(out, "HTTP/1.1"), 2);
      },
    );
  });

  it("a chunked body growing past maxBodySize gets 413 and the handler's body() rejects", async () => {
    let rejected = false;
    await withServer(
      (s) =>
        s.http("/up", async (req) => {
          try {
            await req.body();
          } catch {
            rejected = true;
          }
          return "unreachable";
        }),
      async (port) => {
        const chunk = `${(4000).toString(16)}\r\n${"q".repeat(4000)}\r\n`;
        const out = await rawExchange(
          port,
          `POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(4)}`,
        );
        assert.match(out, /^HTTP\/1\.1 413/);
        assert.equal(rejected, true);
      },
      { limits: { maxBodySize: 10_000 } },
    );
  });

  it("maps errors to statuses: 400, 404, 405, 414, 431, 501, and 500 for a throwing handler while the server goes on", async () => {
    let errors = 0;
    await withServer(
      (s) => {
        s.http("/boom", () => {
          throw new Error("handler failure");
        });
        s.http("/async-boom", async () => {
          throw new Error("async failure");
        });
        s.http("/only-post", () => "posted", { methods: ["POST"] });
        s.http("/ok", () => "ok");
      },
      async (port) => {
        const status = async (req: string) => (await rawExchange(port, req)).slice(9, 12);
        assert.equal(await status("BAD REQUEST LINE\r\n\r\n"), "400");
        assert.equal(await status(GET("/missing", "a", "Connection: close\r\n")), "404");
        assert.equal(await status(GET("/only-post", "a", "Connection: close\r\n")), "405");
        assert.equal(await status(`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`), "414");
        assert.equal(await status(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(17000)}\r\n\r\n`), "431");
        assert.equal(await status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), "501");
        const out = await rawExchange(
          port,
          GET("/boom") + GET("/async-boom") + GET("/ok", "a", "Connection: close\r\n"),
        );
        assert.equal(count(out, "HTTP/1.1 500"), 2);
        assert.ok(out.endsWith("ok"));
        assert.equal(errors, 2);
      },
      { onError: () => errors++ },
    );
  });

  it("answers 408 to a slow request head (slowloris) and closes", async () => {
    await withServer(
      (s) => s.http("/", () => "ok"),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ");
        const t = Date.now();
        const out = await raw.ended;
        assert.match(out.toString(), /^HTTP\/1\.1 408/);
        assert.ok(Date.now() - t >= 250);
      },
      { limits: { headTimeoutMs: 300 } },
    );
  });

  it("closes idle keep-alive connections after keepAliveTimeoutMs", async () => {
    await withServer(
      (s) => s.http("/", () => "ok"),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(GET("/"));
        const out = await raw.ended;
        assert.ok(out.toString().endsWith("ok"));
      },
      { limits: { keepAliveTimeoutMs: 200 } },
    );
  });

  it("streams AsyncIterable bodies chunked, and with a length when given", async () => {
    await withServer(
      (s) => {
        s.http("/stream", () => ({
          body: (async function* () {
            for (let i = 0; i < 50; i++) yield new Uint8Array(64 * 1024).fill(65 + (i % 26));
          })(),
        }));
      },
      async (port) => {
        const res = await fetch(`http://127.0.0.1:${port}/stream`);
        assert.equal(res.headers.get("transfer-encoding"), "chunked");
        const buf = new Uint8Array(await res.arrayBuffer());
        assert.equal(buf.length, 50 * 64 * 1024);
        assert.equal(buf[64 * 1024 * 3], 68);
      },
    );
  });

  it("serves static files with caching semantics, a Response-like object, headers and status", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wh-server-"));
    mkdirSync(join(dir, "css"));
    writeFileSync(join(dir, "index.html"), "<h1>home</h1>");
    writeFileSync(join(dir, "css", "a.css"), "body{}");
    try {
      await withServer(
        (s) => {
          s.static("/assets/*", { root: dir, watch: false });
          s.http("/api", () => ({ status: 201, headers: { "x-api": "1" }, body: "created" }));
          s.http("/fetch", () => new Response("from fetch", { status: 202, headers: { "x-f": "2" } }));
        },
        async (port) => {
          const a = await fetch(`http://127.0.0.1:${port}/assets/css/a.css`);
          assert.equal(a.status, 200);
          assert.equal(await a.text(), "body{}");
          assert.match(a.headers.get("content-type") ?? "", /text\/css/);
          const etag = a.headers.get("etag") ?? "";
          const b = await fetch(`http://127.0.0.1:${port}/assets/css/a.css`, { headers: { "if-none-match": etag } });
          assert.equal(b.status, 304);
          const idx = await fetch(`http://127.0.0.1:${port}/assets/`);
          assert.equal(await idx.text(), "<h1>home</h1>");
          const redirect = await fetch(`http://127.0.0.1:${port}/assets/css`, { redirect: "manual" });
          assert.equal(redirect.status, 301);
          assert.equal(redirect.headers.get("location"), "/assets/css/");
          assert.equal((await fetch(`http://127.0.0.1:${port}/assets/../../etc/passwd`)).status, 404);
          const api = await fetch(`http://127.0.0.1:${port}/api`);
          assert.equal(api.status, 201);
          assert.equal(api.headers.get("x-api"), "1");
          assert.equal(await api.text(), "created");
          const f = await fetch(`http://127.0.0.1:${port}/fetch`);
          assert.equal(f.status, 202);
          assert.equal(f.headers.get("x-f"), "2");
          assert.equal(await f.text(), "from fetch");
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("routes by Host to sites, with aliases, wildcards, a default site and a fallback", async () => {
    await withServer(
      (s) => {
        const a = s.addSite({ name: "a", hosts: ["a.test"], aliases: ["www.a.test"] });
        a.http("/", () => "site a");
        const b = s.addSite({ name: "b", hosts: ["*.b.test"] });
        b.http("/", () => "site b");
        b.fallback((req) => `b fallback ${req.path}`);
        const d = s.addSite({ name: "d", default: true });
        d.http("/", () => "default site");
      },
      async (port) => {
        const body = async (host: string, path = "/") => {
          const out = await rawExchange(port, GET(path, host, "Connection: close\r\n"));
          return out.slice(out.indexOf("\r\n\r\n") + 4);
        };
        assert.equal(await body("a.test"), "site a");
        assert.equal(await body("WWW.A.TEST:80"), "site a");
        assert.equal(await body("x.b.test"), "site b");
        assert.equal(await body("x.b.test", "/nothing/here"), "b fallback /nothing/here");
        assert.equal(await body("unknown.test"), "default site");
      },
    );
  });

  it("accept hooks on HTTP routes can reject", async () => {
    await withServer(
      (s) =>
        s.http("/private", () => "secret", {
          accept: (req) =>
            req.cookies.session === "1" ? { accept: true } : { accept: false, status: 403, body: "no" },
        }),
      async (port) => {
        const no = await fetch(`http://127.0.0.1:${port}/private`);
        assert.equal(no.status, 403);
        assert.equal(await no.text(), "no");
        const yes = await fetch(`http://127.0.0.1:${port}/private`, { headers: { cookie: "session=1" } });
        assert.equal(await yes.text(), "secret");
      },
    );
  });

  it("graceful close lets an in-flight request finish", async () => {
    const server = createServer();
    let release: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((r) => (started = r));
    server.http("/wait", () => {
      started();
      return new Promise((r) => (release = () => r({ body: "finished" })));
    });
    const { port } = await server.listen({ port: 0 });
    const res = fetch(`http://127.0.0.1:${port}/wait`);
    await running;
    const closing = server.close({ deadline: 2000 });
    release();
    const r = await res;
    assert.equal(await r.text(), "finished");
    assert.equal(await closing, 0);
  });
});
