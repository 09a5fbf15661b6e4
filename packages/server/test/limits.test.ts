/**
 * Capacity and time limits: 503 over maxConnections (and the transport's hard ceiling past the
 * overflow), the handler timeout (503), a saturated job pool (503), the body timeout (408),
 * connection counts, and a closed server refusing new connections.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { platform } from "node:process";
import { describe, it } from "node:test";
import { reserveDescriptors } from "@wirehouse/transport";
import WS from "ws";
import { createServer, type Server } from "../src/index.ts";
import { rawExchange, rawSocket, UPGRADE, withServer, wsClient } from "./helpers.ts";

const sumJob = new URL("./fixtures/sum-job.mjs", import.meta.url);

const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

/** A websocket endpoint whose close handler resolves `closedOnServer` (after it the socket is no longer counted). */
function endpoint(s: Server) {
  let onClose: () => void = () => {};
  const api = {
    closedOnServer: () => new Promise<void>((r) => (onClose = r)),
  };
  s.websocket("/ws", {
    message(ws, data) {
      ws.send(data);
    },
    close() {
      onClose();
    },
  });
  s.http("/", () => "ok");
  return api;
}

describe("limits", () => {
  it("answers 503 with Retry-After and Connection: close over maxConnections (HTTP and upgrade), and counts them", async () => {
    let api: ReturnType<typeof endpoint> | undefined;
    await withServer(
      (s) => {
        api = endpoint(s);
      },
      async (port, server) => {
        const a = await wsClient(`ws://127.0.0.1:${port}/ws`);
        const b = await wsClient(`ws://127.0.0.1:${port}/ws`);
        assert.equal(server.clients, 2);
        assert.equal(server.connections, 2);
        // a third connection: its request is read and answered 503, then the connection is closed
        const http = await rawExchange(port, GET("/"));
        assert.match(http, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
        assert.match(http, /\r\nRetry-After: 7\r\n/i);
        assert.match(http, /\r\nConnection: close\r\n/i);
        // an upgrade over the limit gets the same 503
        const up = await rawExchange(port, UPGRADE("/ws"));
        assert.match(up, /^HTTP\/1\.1 503 /);
        assert.match(up, /\r\nRetry-After: 7\r\n/i);
        const ws = new WS(`ws://127.0.0.1:${port}/ws`);
        ws.on("error", () => {});
        const status = await new Promise<number>((r) =>
          ws.once("unexpected-response", (_q, res) => r(res.statusCode ?? 0)),
        );
        assert.equal(status, 503);
        ws.terminate();
        assert.equal(server.rejectedConnections, 3);
        // the established sockets are untouched
        a.send("still here");
        assert.equal((await a.next()).data, "still here");
        // once one leaves there is room again
        const gone = api?.closedOnServer();
        a.close();
        await gone;
        assert.equal(server.clients, 1);
        const ok = await rawExchange(port, GET("/", "Connection: close\r\n"));
        assert.match(ok, /^HTTP\/1\.1 200 /);
        assert.equal(server.rejectedConnections, 3);
        b.close();
        await b.closed;
      },
      { limits: { maxConnections: 2, retryAfterSeconds: 7 } },
    );
  });

  it("closes connections at once past maxConnections + overflowConnections, and counts them", async () => {
    await withServer(
      (s) => s.http("/", () => "ok"),
      async (port, server) => {
        const first = await rawSocket(port);
        first.socket.write(GET("/"));
        await first.waitFor((b) => b.toString().endsWith("ok"));
        // over the limit, inside the overflow: answered 503
        const second = await rawSocket(port);
        // past the overflow: the transport closes it without a byte
        const third = await rawSocket(port);
        assert.equal((await third.ended).length, 0);
        second.socket.write(GET("/"));
        assert.match((await second.ended).toString(), /^HTTP\/1\.1 503 /);
        assert.equal(server.rejectedConnections, 2);
        first.socket.destroy();
      },
      { limits: { maxConnections: 1, overflowConnections: 1 } },
    );
  });

  it("answers 503 when a handler does not respond within handlerTimeoutMs, aborts req.signal, and keeps serving", async () => {
    const errors: string[] = [];
    let aborted: unknown;
    let late: () => void = () => {};
    await withServer(
      (s) => {
        s.http("/hang", (req) => {
          req.signal.addEventListener("abort", () => (aborted = req.signal.reason));
          return new Promise((r) => (late = () => r({ body: "too late" })));
        });
        // a route with its own, longer limit
        s.http("/slow", () => new Promise((r) => setTimeout(() => r({ body: "slow but allowed" }), 400)), {
          timeoutMs: 5000,
        });
        s.http("/ok", () => "ok");
      },
      async (port) => {
        const t = Date.now();
        const out = await rawExchange(port, GET("/hang"));
        assert.ok(Date.now() - t >= 150, "not before the limit");
        assert.match(out, /^HTTP\/1\.1 503 /);
        assert.match(out, /\r\nConnection: close\r\n/i);
        assert.match(out, /timed out/);
        assert.ok(aborted instanceof Error);
        assert.deepEqual(errors, ["http handler timeout"]);
        late(); // a response after the timeout is dropped, nothing breaks
        const slow = await rawExchange(port, GET("/slow", "Connection: close\r\n"));
        assert.match(slow, /^HTTP\/1\.1 200 [\s\S]*slow but allowed$/);
        assert.ok((await rawExchange(port, GET("/ok", "Connection: close\r\n"))).endsWith("ok"));
      },
      { limits: { handlerTimeoutMs: 200 }, onError: (_e, where) => errors.push(where) },
    );
  });

  it("applies the handler timeout to an asynchronous websocket accept hook (503)", async () => {
    await withServer(
      (s) => s.websocket("/never", { upgrade: () => new Promise<{ accept: true }>(() => {}) }),
      async (port) => {
        const out = await rawExchange(port, UPGRADE("/never"));
        assert.match(out, /^HTTP\/1\.1 503 /);
      },
      { limits: { handlerTimeoutMs: 200 } },
    );
  });

  it("req.signal aborts when the client goes away before the response", async () => {
    let started: () => void = () => {};
    const running = new Promise<void>((r) => (started = r));
    let abortedResolve: (v: unknown) => void = () => {};
    const aborted = new Promise<unknown>((r) => (abortedResolve = r));
    await withServer(
      (s) =>
        s.http("/wait", (req) => {
          req.signal.addEventListener("abort", () => abortedResolve(req.signal.reason));
          started();
          return new Promise(() => {});
        }),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(GET("/wait"));
        await running;
        raw.socket.destroy();
        assert.match(String(await aborted), /closed/);
      },
    );
  });

  it("answers 503 with Retry-After when the job pool is saturated (JobQueueFullError)", async () => {
    let firstStarted: () => void = () => {};
    const first = new Promise<void>((r) => (firstStarted = r));
    await withServer(
      (s) =>
        s.http("/job", async (req) => {
          const spin = req.query.get("spin") === "1";
          const p = s.jobs.run<{ sum: number }>(sumJob, spin ? { spin: true } : { n: 10 }, { timeoutMs: 10_000 });
          if (spin) firstStarted();
          return `sum ${(await p).sum}`;
        }),
      async (port, server) => {
        const busy = await rawSocket(port);
        busy.socket.write(GET("/job?spin=1"));
        await first;
        const res = await fetch(`http://127.0.0.1:${port}/job`);
        assert.equal(res.status, 503);
        assert.equal(res.headers.get("retry-after"), "5");
        await res.text();
        assert.equal(server.jobs.running + server.jobs.queued, 1);
        busy.socket.destroy();
      },
      { jobs: { size: 1, maxQueue: 0 } },
    );
  });

  it("answers 408 when a request body stops arriving (bodyTimeoutMs) and aborts req.signal", async () => {
    let aborted = false;
    await withServer(
      (s) =>
        s.http("/up", async (req) => {
          req.signal.addEventListener("abort", () => (aborted = true));
          return `got ${(await req.body()).length}`;
        }),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789");
        const t = Date.now();
        const out = (await raw.ended).toString();
        assert.match(out, /^HTTP\/1\.1 408 /);
        assert.ok(Date.now() - t >= 150);
        assert.equal(aborted, true, "req.signal aborted");
      },
      { limits: { bodyTimeoutMs: 200 } },
    );
  });

  it("grows the descriptor table when listening: by default to maxConnections + overflowConnections, at most 16,384", async () => {
    assert.equal(createServer().limits.reserveDescriptors, 10_256);
    const small = createServer({ limits: { maxConnections: 100, overflowConnections: 10 } });
    assert.equal(small.limits.reserveDescriptors, 110);
    assert.equal(createServer({ limits: { maxConnections: 1_000_000 } }).limits.reserveDescriptors, 16_384);
    assert.equal(createServer({ limits: { reserveDescriptors: 0 } }).limits.reserveDescriptors, 0);
    // The transport remembers the size it made in this process (other tests' servers made some already):
    // one more than that must be made when this server listens.
    const made = reserveDescriptors(0);
    const server = createServer({ limits: { reserveDescriptors: made + 1 } });
    endpoint(server);
    await server.listen({ port: 0 });
    // Linux only, and the transport stays 1,024 below the soft open-files limit.
    const soft =
      platform === "linux"
        ? Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1])
        : 0;
    const expected = made + 1 <= soft - 1024 ? made + 1 : made;
    try {
      assert.equal(reserveDescriptors(0), expected);
    } finally {
      await server.close({ deadline: 1000 });
    }
  });

  it("counts HTTP and WebSocket connections; a closed server refuses new connections", async () => {
    const server = createServer();
    endpoint(server);
    const { port } = await server.listen({ port: 0 });
    const c = await wsClient(`ws://127.0.0.1:${port}/ws`);
    const raw = await rawSocket(port);
    raw.socket.write(GET("/"));
    await raw.waitFor((b) => b.toString().endsWith("ok"));
    assert.equal(server.connections, 2);
    assert.equal(server.clients, 1);
    await server.close({ deadline: 1000 });
    assert.equal((await c.closed).code, 1001);
    await raw.ended;
    assert.equal(server.connections, 0);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.on("connect", () => {
        s.destroy();
        resolve("connected");
      });
      s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    assert.equal(refused, "ECONNREFUSED");
  });
});
