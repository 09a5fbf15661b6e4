import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoderEvent, encodeFrame, encodeFrameBytes, MessageDecoder, Opcode } from "@wirehouse/codec";
import WS from "ws";
import { createServer, type Server } from "../src/index.ts";
import { clients, equalBytes, pattern, rawSocket, UPGRADE, withServer, wsClient } from "./helpers.ts";

const echo = (s: Server, options = {}) =>
  s.websocket(
    "/echo",
    {
      message(ws, data, binary) {
        ws.send(data, { binary });
      },
    },
    options,
  );

const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 * 1024 * 1024 - 64];

for (const [name, make] of clients) {
  describe(`websocket echo with the ${name}`, () => {
    it("echoes text and binary of sizes 0 B to 16 MiB", async () => {
      await withServer(echo, async (port) => {
        const c = await make(`ws://127.0.0.1:${port}/echo`);
        for (const size of SIZES) {
          const bin = pattern(size, size + 1);
          c.send(bin);
          const m = await c.next();
          assert.equal(m.binary, true);
          assert.ok(equalBytes(m.data as Uint8Array, bin), `binary ${size}`);
        }
        for (const size of [0, 5, 200, 70_000]) {
          const text = "é€𝄞a".repeat(size / 10 + 1).slice(0, size);
          c.send(text);
          const m = await c.next();
          assert.equal(m.binary, false);
          assert.equal(m.data, text);
        }
        // large text, sized in UTF-8 bytes (10 per "é€𝄞a"): 1 MiB and just under 16 MiB
        for (const bytes of [1 << 20, 16 * 1024 * 1024 - 64]) {
          const text = "é€𝄞a".repeat(Math.floor(bytes / 10)) + "a".repeat(bytes % 10);
          c.send(text);
          const m = await c.next();
          assert.equal(m.binary, false);
          assert.ok(m.data === text, `text of ${bytes} bytes`);
        }
        c.close(1000);
        assert.equal((await c.closed).code, 1000);
      });
    });

    it("negotiates permessage-deflate and round-trips compressed messages", async () => {
      let serverExt = "";
      await withServer(
        (s) =>
          s.websocket(
            "/echo",
            {
              open(ws) {
                serverExt = ws.extensions;
              },
              message(ws, data, binary) {
                ws.send(data, { binary });
              },
            },
            { deflate: { threshold: 0 } },
          ),
        async (port) => {
          const c = await make(`ws://127.0.0.1:${port}/echo`, { deflate: true });
          if (c.offersDeflate) assert.match(c.extensions(), /permessage-deflate/);
          else assert.equal(c.extensions(), "");
          const text = "compress me ".repeat(5000);
          for (let i = 0; i < 5; i++) {
            c.send(text + i);
            assert.equal((await c.next()).data, text + i);
          }
          const bin = pattern(300_000, 3);
          c.send(bin);
          assert.ok(equalBytes((await c.next()).data as Uint8Array, bin));
          if (c.offersDeflate) assert.match(serverExt, /permessage-deflate/);
          c.close();
          await c.closed;
        },
      );
    });

    it("delivers close codes and reasons both ways", async () => {
      const seen: [number, string][] = [];
      let resolveSeen: () => void = () => {};
      const gotClose = new Promise<void>((r) => (resolveSeen = r));
      await withServer(
        (s) =>
          s.websocket("/c", {
            message(ws, data) {
              if (data === "close-me") ws.close(4001, "server says bye");
            },
            close(_ws, code, reason) {
              seen.push([code, reason]);
              resolveSeen();
            },
          }),
        async (port) => {
          const a = await make(`ws://127.0.0.1:${port}/c`);
          a.close(4000, "client says bye");
          assert.equal((await a.closed).code, 4000);
          await gotClose;
          assert.deepEqual(seen[0], [4000, "client says bye"]);
          const b = await make(`ws://127.0.0.1:${port}/c`);
          b.send("close-me");
          assert.deepEqual(await b.closed, { code: 4001, reason: "server says bye" });
        },
      );
    });

    it("closes with 1009 past maxPayload", async () => {
      await withServer(
        (s) => echo(s, { maxPayload: 1000 }),
        async (port) => {
          const c = await make(`ws://127.0.0.1:${port}/echo`);
          c.send(new Uint8Array(500));
          assert.equal(((await c.next()).data as Uint8Array).length, 500);
          c.send(new Uint8Array(2000));
          assert.equal((await c.closed).code, 1009);
        },
      );
    });

    it("closes idle sockets after idleTimeout", async () => {
      await withServer(
        (s) => echo(s, { idleTimeout: 0.3 }),
        async (port) => {
          const c = await make(`ws://127.0.0.1:${port}/echo`);
          const t = Date.now();
          assert.equal((await c.closed).code, 1001);
          assert.ok(Date.now() - t >= 250);
        },
      );
    });

    it("reassembles fragmented messages both ways (server fragments at maxFrameSize; the client too where it can)", async () => {
      await withServer(
        (s) => echo(s, { maxFrameSize: 1000 }),
        async (port) => {
          const c = await make(`ws://127.0.0.1:${port}/echo`, { fragment: 700 });
          const bin = pattern(10_000, 5);
          c.send(bin);
          assert.ok(equalBytes((await c.next()).data as Uint8Array, bin));
          const text = "fragmented é€ text ".repeat(300);
          c.send(text);
          assert.equal((await c.next()).data, text);
          c.close();
          await c.closed;
        },
      );
    });

    it("ping/pong: the client answers the server's ping (pong handler), the server answers the client's", async () => {
      const serverPings: string[] = [];
      await withServer(
        (s) =>
          s.websocket("/p", {
            message(ws) {
              ws.ping("from server");
            },
            ping(_ws, d) {
              serverPings.push(new TextDecoder().decode(d));
            },
            pong(ws, d) {
              ws.send(`pong: ${new TextDecoder().decode(d)}`);
            },
          }),
        async (port) => {
          const c = await make(`ws://127.0.0.1:${port}/p`);
          c.send("ping me");
          assert.equal((await c.next()).data, "pong: from server");
          if (c.ping) {
            assert.equal(await c.ping("from client"), "from client");
            assert.deepEqual(serverPings, ["from client"]);
          }
          c.close();
          await c.closed;
        },
      );
    });

    it("reports backpressure (send 0, -1 and dropped) and delivers drain", async () => {
      const results: number[] = [];
      let drained = 0;
      let dropped = 0;
      await withServer(
        (s) =>
          s.websocket(
            "/bp",
            {
              message(ws) {
                const chunk = new Uint8Array(256 * 1024);
                for (let i = 0; i < 40; i++) results.push(ws.send(chunk));
                assert.ok(ws.bufferedAmount > 0);
              },
              drain(ws) {
                if (drained++ === 0) ws.send("drained");
              },
              dropped() {
                dropped++;
              },
            },
            { maxBackpressure: 4 * 1024 * 1024 },
          ),
        async (port) => {
          const c = await make(`ws://127.0.0.1:${port}/bp`);
          c.send("go");
          let binaries = 0;
          for (;;) {
            const m = await c.next();
            if (m.binary) binaries++;
            else {
              assert.equal(m.data, "drained");
              break;
            }
          }
          assert.ok(results.includes(0), "some sends reported buffered");
          assert.ok(results.includes(-1), "some sends were dropped");
          assert.equal(dropped, results.filter((r) => r === -1).length);
          assert.equal(binaries, results.filter((r) => r !== -1).length);
          assert.ok(drained >= 1);
          c.close();
          await c.closed;
        },
      );
    });

    it("closes with 1001 on graceful shutdown after the queued messages", async () => {
      const server = createServer();
      let resolveOpen: () => void = () => {};
      const opened = new Promise<void>((r) => (resolveOpen = r));
      server.websocket("/q", {
        open() {
          resolveOpen();
        },
      });
      const { port } = await server.listen({ port: 0 });
      const c = await make(`ws://127.0.0.1:${port}/q`);
      await opened;
      for (let i = 0; i < 100; i++) server.broadcast(`m${i}`);
      const closing = server.close({ deadline: 3000 });
      for (let i = 0; i < 100; i++) assert.equal((await c.next()).data, `m${i}`);
      assert.equal((await c.closed).code, 1001);
      await closing;
    });
  });
}

describe("websocket protocol details (ws client and raw sockets)", () => {
  it("reassembles fragmented messages from the client and fragments at maxFrameSize", async () => {
    await withServer(
      (s) => echo(s, { maxFrameSize: 1000 }),
      async (port) => {
        const ws = new WS(`ws://127.0.0.1:${port}/echo`);
        ws.on("error", () => {});
        await new Promise((r) => ws.once("open", r));
        const got = new Promise<Buffer>((r) => ws.once("message", (d: Buffer) => r(d)));
        ws.send("hello ", { fin: false });
        ws.send("fragmented ", { fin: false });
        ws.send("world", { fin: true });
        assert.equal(String(await got), "hello fragmented world");
        // raw: count the frames of a 10,000-byte echo
        const raw = await rawSocket(port);
        raw.socket.write(UPGRADE("/echo"));
        await raw.waitFor((b) => b.includes("\r\n\r\n"));
        const payload = pattern(10_000, 9);
        const [h, p] = encodeFrame(Opcode.Binary, payload, { mask: true });
        raw.socket.write(Buffer.concat([h, p]));
        const headLen = raw.received().indexOf("\r\n\r\n") + 4;
        const buf = await raw.waitFor((b) => b.length >= headLen + 10_000 + 10 * 2);
        const d = new MessageDecoder({ role: "client" });
        d.push(new Uint8Array(buf.subarray(headLen)));
        assert.equal(d.next(), DecoderEvent.Binary);
        assert.ok(equalBytes(d.data, payload));
        // 10 frames of 1000 bytes with 4-byte headers (126 + 16-bit length)
        assert.equal(buf.length - headLen, 10 * 4 + 10_000);
        raw.socket.destroy();
        ws.close();
      },
    );
  });

  it("does not close a socket that keeps talking before idleTimeout", async () => {
    let closes = 0;
    await withServer(
      (s) =>
        s.websocket(
          "/echo",
          {
            message(ws, data) {
              ws.send(data);
            },
            close() {
              closes++;
            },
          },
          { idleTimeout: 0.3 },
        ),
      async (port) => {
        const c = await wsClient(`ws://127.0.0.1:${port}/echo`);
        for (let i = 0; i < 6; i++) {
          await new Promise((r) => setTimeout(r, 100));
          c.send(`tick ${i}`);
          assert.equal((await c.next()).data, `tick ${i}`);
        }
        assert.equal(closes, 0);
        assert.equal((await c.closed).code, 1001); // and once quiet, it goes
      },
    );
  });

  it("answers 503 to an upgrade that completes while the server is shutting down", async () => {
    const server = createServer();
    echo(server);
    server.http("/ping", () => "pong");
    const { port } = await server.listen({ port: 0 });
    const raw = await rawSocket(port);
    const head = UPGRADE("/echo");
    // One write: a request, then the start of an upgrade. Its answer proves the server has read both.
    raw.socket.write(`GET /ping HTTP/1.1\r\nHost: a\r\n\r\n${head.slice(0, 40)}`);
    await raw.waitFor((b) => b.toString().endsWith("pong"));
    const closing = server.close({ deadline: 2000 });
    raw.socket.write(head.slice(40));
    const out = (await raw.ended).toString();
    assert.match(out, /HTTP\/1\.1 503/);
    assert.match(out, /^HTTP\/1\.1 200/);
    await closing;
  });

  it("closes a socket at maxLifetime even while it is busy", async () => {
    await withServer(
      (s) => echo(s, { maxLifetime: 0.3 }),
      async (port) => {
        const c = await wsClient(`ws://127.0.0.1:${port}/echo`);
        const t = Date.now();
        const closed = c.closed;
        let done = false;
        void closed.then(() => (done = true));
        while (!done) {
          c.send("busy");
          await Promise.race([c.next(), closed]);
        }
        assert.equal((await closed).code, 1000);
        assert.ok(Date.now() - t >= 250);
      },
    );
  });

  it("answers pings with pongs and reports pings/pongs to the handler", async () => {
    const pings: string[] = [];
    await withServer(
      (s) =>
        s.websocket("/p", {
          ping(_ws, d) {
            pings.push(new TextDecoder().decode(d));
          },
          message(ws) {
            ws.ping("srv");
          },
        }),
      async (port) => {
        const ws = new WS(`ws://127.0.0.1:${port}/p`);
        ws.on("error", () => {});
        await new Promise((r) => ws.once("open", r));
        const pong = new Promise<Buffer>((r) => ws.once("pong", r));
        ws.ping("hello");
        assert.equal(String(await pong), "hello");
        assert.deepEqual(pings, ["hello"]);
        const ping = new Promise<Buffer>((r) => ws.once("ping", r));
        ws.send("x");
        assert.equal(String(await ping), "srv");
        ws.close();
      },
    );
  });

  it("closes with 1007 on invalid UTF-8", async () => {
    await withServer(echo, async (port) => {
      const raw = await rawSocket(port);
      raw.socket.write(UPGRADE("/echo"));
      await raw.waitFor((b) => b.includes("\r\n\r\n"));
      raw.socket.write(encodeFrameBytes(Opcode.Text, new Uint8Array([0x68, 0xff, 0x69]), { mask: true }));
      const all = await raw.ended;
      const d = new MessageDecoder({ role: "client" });
      d.push(new Uint8Array(all.subarray(all.indexOf("\r\n\r\n") + 4)));
      assert.equal(d.next(), DecoderEvent.Close);
      assert.equal(d.closeCode, 1007);
    });
  });

  it("bytes sent while an asynchronous upgrade hook runs reach the socket once it opens", async () => {
    let hookCalled: () => void = () => {};
    const called = new Promise<void>((r) => (hookCalled = r));
    let openGate: () => void = () => {};
    const gate = new Promise<void>((r) => (openGate = r));
    let gotMessage: (m: string) => void = () => {};
    const got = new Promise<string>((r) => (gotMessage = r));
    await withServer(
      (s) => {
        s.websocket("/slow", {
          async upgrade() {
            hookCalled();
            await gate;
            return { accept: true };
          },
          message(_ws, data) {
            gotMessage(String(data));
          },
        });
        s.http("/ping", () => "pong");
      },
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(UPGRADE("/slow"));
        await called;
        // A frame before the 101 (allowed once the client has sent its request; no client waits less than this).
        raw.socket.write(encodeFrameBytes(Opcode.Text, new TextEncoder().encode("early"), { mask: true }));
        // A request on another connection answered means the server's loop has seen the frame's bytes (loopback).
        assert.equal(await (await fetch(`http://127.0.0.1:${port}/ping`)).text(), "pong");
        openGate();
        assert.equal(await got, "early");
        raw.socket.destroy();
      },
    );
  });

  it("pings after inactivity and closes when no pong comes", async () => {
    await withServer(
      (s) => echo(s, { pingInterval: 0.2, pongTimeout: 0.2 }),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(UPGRADE("/echo"));
        const all = await raw.ended;
        const d = new MessageDecoder({ role: "client" });
        d.push(new Uint8Array(all.subarray(all.indexOf("\r\n\r\n") + 4)));
        assert.equal(d.next(), DecoderEvent.Ping);
        assert.equal(d.next(), DecoderEvent.Close);
        assert.equal(d.closeCode, 1011);
      },
    );
  });

  it("keeps a connection that answers pings", async () => {
    let closes = 0;
    await withServer(
      (s) =>
        s.websocket(
          "/echo",
          {
            message(ws, data) {
              ws.send(data);
            },
            close() {
              closes++;
            },
          },
          { pingInterval: 0.1, pongTimeout: 0.5 },
        ),
      async (port) => {
        const c = await wsClient(`ws://127.0.0.1:${port}/echo`);
        // several ping intervals pass while we wait for 8 echoes spaced by pings
        for (let i = 0; i < 4; i++) {
          await new Promise((r) => setTimeout(r, 100));
          c.send(`still here ${i}`);
          assert.equal((await c.next()).data, `still here ${i}`);
        }
        assert.equal(closes, 0);
        c.close();
        await c.closed;
      },
    );
  });

  it("closeOnBackpressureLimit closes with 1008", async () => {
    await withServer(
      (s) =>
        s.websocket(
          "/bp",
          {
            message(ws) {
              for (let i = 0; i < 40; i++) ws.send(new Uint8Array(256 * 1024));
            },
          },
          { maxBackpressure: 1024 * 1024, closeOnBackpressureLimit: true },
        ),
      async (port) => {
        const ws = new WS(`ws://127.0.0.1:${port}/bp`);
        ws.on("error", () => {});
        await new Promise((r) => ws.once("open", r));
        const code = new Promise<number>((r) => ws.once("close", r));
        ws.send("go");
        assert.equal(await code, 1008);
      },
    );
  });

  it("runs the upgrade hook: reject with a status, accept with data, headers and a subprotocol", async () => {
    await withServer(
      (s) =>
        s.websocket<{ user: string }>(
          "/room/:id",
          {
            upgrade(req) {
              if (req.query.get("token") !== "ok") return { accept: false, status: 401 };
              return {
                accept: true,
                data: { user: `u-${req.params.id}` },
                headers: [["X-Hello", "1"]],
                protocol: "chat.v2",
              };
            },
            open(ws) {
              ws.send(`${ws.data.user} ${ws.protocol}`);
            },
          },
          { protocols: ["chat.v1", "chat.v2"] },
        ),
      async (port) => {
        const bad = new WS(`ws://127.0.0.1:${port}/room/7`);
        bad.on("error", () => {});
        const status = await new Promise<number>((r) =>
          bad.once("unexpected-response", (_q, res) => r(res.statusCode ?? 0)),
        );
        assert.equal(status, 401);
        bad.terminate();
        const ws = new WS(`ws://127.0.0.1:${port}/room/7?token=ok`, ["chat.v1", "chat.v2"]);
        ws.on("error", () => {});
        const headers = new Promise<Record<string, unknown>>((r) => ws.once("upgrade", (res) => r(res.headers)));
        const msg = new Promise<string>((r) => ws.once("message", (d) => r(String(d))));
        assert.equal((await headers)["x-hello"], "1");
        assert.equal(await msg, "u-7 chat.v2");
        assert.equal(ws.protocol, "chat.v2");
        ws.close();
      },
    );
  });

  it("refuses cross-origin browser requests by default and allows listed origins", async () => {
    await withServer(
      (s) => {
        echo(s);
        s.websocket("/open", { open: (ws) => ws.send("hi") }, { origins: ["https://good.example"] });
      },
      async (port) => {
        const bad = new WS(`ws://127.0.0.1:${port}/echo`, { origin: "https://evil.example" });
        bad.on("error", () => {});
        const status = await new Promise<number>((r) =>
          bad.once("unexpected-response", (_q, res) => r(res.statusCode ?? 0)),
        );
        assert.equal(status, 403);
        bad.terminate();
        const same = new WS(`ws://127.0.0.1:${port}/echo`, { origin: `http://127.0.0.1:${port}` });
        same.on("error", () => {});
        await new Promise((r) => same.once("open", r));
        same.close();
        const listed = new WS(`ws://127.0.0.1:${port}/open`, { origin: "https://good.example" });
        listed.on("error", () => {});
        assert.equal(String(await new Promise((r) => listed.once("message", r))), "hi");
        listed.close();
      },
    );
  });

  it("a message handler that throws closes that socket with 1011 and the server goes on", async () => {
    await withServer(
      (s) =>
        s.websocket("/t", {
          message(ws, data) {
            if (data === "boom") throw new Error("handler failure");
            ws.send(data);
          },
        }),
      async (port) => {
        const a = await wsClient(`ws://127.0.0.1:${port}/t`);
        a.send("boom");
        assert.equal((await a.closed).code, 1011);
        const b = await wsClient(`ws://127.0.0.1:${port}/t`);
        b.send("fine");
        assert.equal((await b.next()).data, "fine");
        b.close();
        await b.closed;
      },
    );
  });
});

describe("websocket options and socket properties", () => {
  it("exposes data, remoteAddress, remotePort, readyState, protocol and topics on the socket", async () => {
    const seen: Record<string, unknown> = {};
    let closedResolve: () => void = () => {};
    const closed = new Promise<void>((r) => (closedResolve = r));
    await withServer(
      (s) =>
        s.websocket<{ id: number }>(
          "/props",
          {
            upgrade: () => ({ accept: true, data: { id: 42 } }),
            open(ws) {
              ws.subscribe("t");
              Object.assign(seen, {
                data: ws.data,
                remoteAddress: ws.remoteAddress,
                remotePort: ws.remotePort,
                readyState: ws.readyState,
                protocol: ws.protocol,
                topics: [...ws.topics],
                subscribed: ws.isSubscribed("t"),
              });
              ws.send("ok");
            },
            close(ws) {
              seen.closedState = ws.readyState;
              seen.topicsAfter = ws.topics.size;
              closedResolve();
            },
          },
          { protocols: ["p"] },
        ),
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(UPGRADE("/props", "Sec-WebSocket-Protocol: p\r\n"));
        await raw.waitFor((b) => b.includes("ok"));
        const localPort = raw.socket.localPort;
        raw.socket.write(encodeFrameBytes(Opcode.Close, new Uint8Array([0x03, 0xe8]), { mask: true }));
        await closed;
        raw.socket.destroy();
        assert.deepEqual(seen, {
          data: { id: 42 },
          remoteAddress: "127.0.0.1",
          remotePort: localPort,
          readyState: 1,
          protocol: "p",
          topics: ["t"],
          subscribed: true,
          closedState: 3,
          topicsAfter: 0,
        });
      },
    );
  });

  it("resetIdleOnSend keeps a socket the server talks to; without it the idle timeout counts received data only", async () => {
    const run = async (resetIdleOnSend: boolean) => {
      let count = 0;
      await withServer(
        (s) =>
          s.websocket(
            "/i",
            {
              open(ws) {
                let n = 0;
                const t = setInterval(() => {
                  if (++n > 12 || ws.readyState !== 1) clearInterval(t);
                  else ws.send(`tick ${n}`);
                }, 50);
              },
            },
            { idleTimeout: 0.3, resetIdleOnSend },
          ),
        async (port) => {
          const c = await wsClient(`ws://127.0.0.1:${port}/i`);
          let done = false;
          const closed = c.closed.then((v) => {
            done = true;
            return v;
          });
          while (!done) {
            const m = await Promise.race([c.next(), closed]);
            if ("binary" in m) count++;
          }
          assert.equal((await closed).code, 1001);
        },
      );
      return count;
    };
    assert.equal(await run(true), 12, "every tick arrives before the idle close");
    assert.ok((await run(false)) < 12, "closed while the server was still sending");
  });

  it("origins: a callback decides; the default refuses Origin 'null'", async () => {
    await withServer(
      (s) => {
        s.websocket(
          "/cb",
          { open: (ws) => ws.send("in") },
          { origins: (origin, req) => origin.endsWith(".ok") && req.path === "/cb" },
        );
        echo(s);
      },
      async (port) => {
        const status = async (path: string, origin: string) => {
          const ws = new WS(`ws://127.0.0.1:${port}${path}`, { origin });
          ws.on("error", () => {});
          const r = await new Promise<number>((resolve) => {
            ws.once("open", () => resolve(101));
            ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0));
          });
          ws.terminate();
          return r;
        };
        assert.equal(await status("/cb", "https://a.ok"), 101);
        assert.equal(await status("/cb", "https://a.bad"), 403);
        assert.equal(await status("/echo", "null"), 403);
      },
    );
  });

  it("an endpoint's maxBackpressure over the transport's default 16 MiB holds: a 20 MiB message echoes whole", async () => {
    const big = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 1024) big[i] = (i >> 10) & 0xff;
    await withServer(
      (s) =>
        s.websocket(
          "/big",
          {
            message(ws, data, isBinary) {
              ws.send(data, { binary: isBinary });
            },
          },
          { maxPayload: 64 * 1024 * 1024, maxBackpressure: 64 * 1024 * 1024 },
        ),
      async (port, server) => {
        const c = new WS(`ws://127.0.0.1:${port}/big`, { maxPayload: 64 * 1024 * 1024 });
        const echoed = new Promise<Uint8Array>((resolve, reject) => {
          c.on("message", (d: Buffer) => resolve(new Uint8Array(d)));
          c.on("close", (code: number) => reject(new Error(`closed with ${code} before the echo`)));
        });
        await new Promise((r) => c.on("open", r));
        c.send(big);
        const got = await echoed;
        assert.equal(got.length, big.length);
        assert.ok(got.every((b, i) => b === big[i]));
        c.close();
        // Fixed once listening: an endpoint needing more is refused with a clear error.
        assert.throws(
          () => server.websocket("/bigger", {}, { maxBackpressure: 128 * 1024 * 1024 }),
          /add the endpoint before listen/,
        );
        server.websocket("/smaller", {}, { maxBackpressure: 32 * 1024 * 1024 });
      },
    );
  });

  it("permessage-deflate options: window bits and no-context-takeover negotiated, threshold respected, off by default", async () => {
    await withServer(
      (s) => {
        echo(s, { deflate: { serverMaxWindowBits: 10, serverNoContextTakeover: true, threshold: 100 } });
        s.websocket("/plain", {});
      },
      async (port) => {
        const raw = await rawSocket(port);
        raw.socket.write(UPGRADE("/echo", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
        const head = (await raw.waitFor((b) => b.includes("\r\n\r\n"))).toString();
        const ext = /sec-websocket-extensions: ([^\r]*)/i.exec(head)?.[1] ?? "";
        assert.match(ext, /permessage-deflate/);
        assert.match(ext, /server_no_context_takeover/);
        assert.match(ext, /server_max_window_bits=10/);
        const headLen = raw.received().indexOf("\r\n\r\n") + 4;
        const frameAt = async (offset: number) => {
          const b = await raw.waitFor((x) => x.length >= headLen + offset + 2);
          const len = (b[headLen + offset + 1] ?? 0) & 0x7f;
          await raw.waitFor((x) => x.length >= headLen + offset + 2 + len);
          return raw.received().subarray(headLen + offset, headLen + offset + 2 + len);
        };
        raw.socket.write(encodeFrameBytes(Opcode.Text, new TextEncoder().encode("small"), { mask: true }));
        const small = await frameAt(0);
        assert.equal(small[0], 0x81, "under the threshold: not compressed (RSV1 clear)");
        const big = new TextEncoder().encode("a".repeat(1000));
        raw.socket.write(encodeFrameBytes(Opcode.Text, big, { mask: true }));
        const first = Buffer.from(await frameAt(small.length));
        assert.equal(first[0], 0xc1, "over the threshold: compressed (RSV1 set)");
        raw.socket.write(encodeFrameBytes(Opcode.Text, big, { mask: true }));
        const second = Buffer.from(await frameAt(small.length + first.length));
        assert.ok(first.equals(second), "no context takeover: the same message compresses to the same bytes");
        raw.socket.destroy();
        /** A raw upgrade offering `offer`: it must get 101 without Sec-WebSocket-Extensions. */
        const openedWithout = async (path: string, offer: string) => {
          const r = await rawSocket(port);
          r.socket.write(UPGRADE(path, `Sec-WebSocket-Extensions: ${offer}\r\n`));
          const h = (await r.waitFor((x) => x.includes("\r\n\r\n"))).toString();
          assert.match(h, /^HTTP\/1\.1 101 /, offer);
          assert.doesNotMatch(h, /sec-websocket-extensions/i, offer);
          return r;
        };
        // off by default: an endpoint without `deflate` does not accept the offer
        (await openedWithout("/plain", "permessage-deflate; client_max_window_bits")).socket.destroy();
        // An invalid offer is declined (RFC 7692 §7), not refused: 101 without compression, and the socket echoes.
        const declined = await openedWithout("/echo", "permessage-deflate; client_max_window_bits=7");
        const at = declined.received().indexOf("\r\n\r\n") + 4;
        declined.socket.write(encodeFrameBytes(Opcode.Text, new TextEncoder().encode("a".repeat(200)), { mask: true }));
        const echoed = await declined.waitFor((x) => x.length >= at + 4 + 200);
        assert.equal(echoed[at], 0x81, "uncompressed (RSV1 clear)");
        declined.socket.destroy();
      },
    );
  });
});
