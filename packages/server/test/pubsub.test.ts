import assert from "node:assert/strict";
import { describe, it } from "node:test";
import WS from "ws";
import { connect, createServer, type PubSubAdapter, type WebSocket } from "../src/index.ts";
import { rawSocket, UPGRADE, withServer, wsClient } from "./helpers.ts";

describe("publish / subscribe", () => {
  it("publish writes the same encoded frame to every subscriber of a topic, and only to them", async () => {
    const opened: WebSocket[] = [];
    let allOpen: () => void = () => {};
    const ready = new Promise<void>((r) => (allOpen = r));
    await withServer(
      (s) =>
        s.websocket("/room/:name", {
          open(ws) {
            const name = (ws as unknown as { request: { params: { name: string } } }).request.params.name;
            ws.subscribe(name);
            opened.push(ws);
            if (opened.length === 3) allOpen();
          },
          message(ws, data) {
            // ws.publish excludes the sender
            ws.publish("red", `relay:${data}`);
          },
        }),
      async (port, server) => {
        const red1 = await wsClient(`ws://127.0.0.1:${port}/room/red`);
        const red2 = await wsClient(`ws://127.0.0.1:${port}/room/red`);
        const blue = await wsClient(`ws://127.0.0.1:${port}/room/blue`);
        await ready;
        assert.ok(opened[0]?.isSubscribed("red"));
        server.publish("red", "to red");
        server.publish("blue", new Uint8Array([1, 2, 3]));
        assert.deepEqual(await red1.next(), { data: "to red", binary: false });
        assert.deepEqual(await red2.next(), { data: "to red", binary: false });
        assert.deepEqual(await blue.next(), { data: new Uint8Array([1, 2, 3]), binary: true });
        red1.send("hi");
        assert.deepEqual(await red2.next(), { data: "relay:hi", binary: false });
        server.broadcast("everyone");
        for (const c of [red1, red2, blue]) assert.equal((await c.next()).data, "everyone");
        opened[1]?.unsubscribe("red");
        server.publish("red", "after unsubscribe");
        server.broadcast("end");
        assert.equal((await red1.next()).data, "after unsubscribe");
        assert.equal((await red2.next()).data, "end");
        assert.equal(server.clients, 3);
        for (const c of [red1, red2, blue]) c.close();
      },
    );
  });

  it("prepare encodes once for ws.send to many sockets", async () => {
    const sockets: WebSocket[] = [];
    let twoOpen: () => void = () => {};
    const ready = new Promise<void>((r) => (twoOpen = r));
    await withServer(
      (s) =>
        s.websocket("/", {
          open(ws) {
            sockets.push(ws);
            if (sockets.length === 2) twoOpen();
          },
        }),
      async (port, server) => {
        const a = await wsClient(`ws://127.0.0.1:${port}/`);
        const b = await wsClient(`ws://127.0.0.1:${port}/`);
        await ready;
        const p = server.prepare("prepared!");
        for (const ws of sockets) assert.equal(ws.send(p), 1);
        assert.equal((await a.next()).data, "prepared!");
        assert.equal((await b.next()).data, "prepared!");
        a.close();
        b.close();
        await a.closed;
        await b.closed;
      },
    );
  });
});

/** `p`, or a failure after `ms` (a message that never comes fails the test instead of hanging it). */
async function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An adapter standing for the other instances: records what it is asked to carry, and can play a message from them. */
class RecordingAdapter implements PubSubAdapter {
  readonly published: { topic: string; data: Uint8Array; binary: boolean; compress: boolean }[] = [];
  readonly topics = new Set<string>();
  closed = false;
  private cb: ((t: string, d: Uint8Array, b: boolean, c?: boolean) => void) | null = null;
  publish(topic: string, data: Uint8Array, binary: boolean, compress?: boolean) {
    this.published.push({ topic, data: data.slice(), binary, compress: compress === true });
  }
  onMessage(cb: (t: string, d: Uint8Array, b: boolean, c?: boolean) => void) {
    this.cb = cb;
  }
  subscribe(t: string) {
    this.topics.add(t);
  }
  unsubscribe(t: string) {
    this.topics.delete(t);
  }
  close() {
    this.closed = true;
  }
  /** A message another instance published. */
  fromElsewhere(topic: string, data: Uint8Array, binary: boolean, compress = false) {
    this.cb?.(topic, data, binary, compress);
  }
}

describe("publish across instances (the pub/sub adapter)", () => {
  it("delivers here once and hands the adapter every publish, ws.publish included; what the adapter brings reaches the subscribers here", async () => {
    const adapter = new RecordingAdapter();
    const sockets: WebSocket[] = [];
    let twoOpen: () => void = () => {};
    const ready = new Promise<void>((r) => (twoOpen = r));
    const text = (d: Uint8Array) => new TextDecoder().decode(d);
    await withServer(
      (s) =>
        s.websocket("/", {
          open(ws) {
            ws.subscribe("t");
            sockets.push(ws);
            if (sockets.length === 2) twoOpen();
          },
          message(ws, data) {
            ws.publish("t", `from a peer: ${data}`);
          },
        }),
      async (port, server) => {
        const a = await wsClient(`ws://127.0.0.1:${port}/`);
        const b = await wsClient(`ws://127.0.0.1:${port}/`);
        await ready;
        assert.deepEqual([...adapter.topics], ["t"], "the first subscriber here subscribes the adapter");

        server.publish("t", "one");
        server.publish("t", new Uint8Array([7, 8]));
        for (const c of [a, b]) {
          assert.deepEqual(await within(c.next(), "server.publish here"), { data: "one", binary: false });
          assert.deepEqual(await c.next(), { data: new Uint8Array([7, 8]), binary: true });
        }
        assert.deepEqual(
          adapter.published.map((p) => [p.topic, p.binary, Array.from(p.data)]),
          [
            ["t", false, Array.from(new TextEncoder().encode("one"))],
            ["t", true, [7, 8]],
          ],
        );

        // ws.publish: every subscriber here but the sender, and the other instances.
        a.send("hi");
        assert.deepEqual(await within(b.next(), "ws.publish here"), { data: "from a peer: hi", binary: false });
        assert.equal(adapter.published.length, 3);
        assert.equal(text(adapter.published[2]!.data), "from a peer: hi");

        // From another instance: to every subscriber here (no sender here), not handed back.
        adapter.fromElsewhere("t", new TextEncoder().encode("elsewhere"), false);
        adapter.fromElsewhere("nobody-here", new TextEncoder().encode("x"), false);
        adapter.fromElsewhere("t", new Uint8Array([1]), true);
        for (const c of [a, b]) {
          assert.deepEqual(await within(c.next(), "from elsewhere"), { data: "elsewhere", binary: false });
          assert.deepEqual(await c.next(), { data: new Uint8Array([1]), binary: true });
        }
        assert.equal(adapter.published.length, 3);

        // Nothing extra arrived: the next message is the one sent now.
        server.publish("t", "last");
        for (const c of [a, b]) assert.deepEqual(await c.next(), { data: "last", binary: false });

        for (const ws of sockets) ws.unsubscribe("t");
        assert.equal(adapter.topics.size, 0, "the last subscriber here unsubscribes the adapter");
        a.close();
        b.close();
        await a.closed;
        await b.closed;
      },
      { pubsub: adapter },
    );
    assert.ok(adapter.closed, "server.close() closes the adapter");
  });

  it("carries publish's compress to the other instances, and compresses what they published with it", async () => {
    const adapter = new RecordingAdapter();
    const sockets: WebSocket[] = [];
    let open: () => void = () => {};
    const ready = new Promise<void>((r) => (open = r));
    await withServer(
      (s) =>
        s.websocket(
          "/",
          {
            open(ws) {
              ws.subscribe("t");
              sockets.push(ws);
              open();
            },
          },
          { deflate: { threshold: 0 } },
        ),
      async (port, server) => {
        const raw = await rawSocket(port);
        raw.socket.write(UPGRADE("/", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"));
        await ready;
        const big = "elsewhere ".repeat(1000);
        server.publish("t", "a", { compress: true });
        server.publish("t", "b");
        sockets[0]!.publish("t", "c", { compress: true });
        assert.deepEqual(
          adapter.published.map((p) => [new TextDecoder().decode(p.data), p.compress]),
          [
            ["a", true],
            ["b", false],
            ["c", true],
          ],
        );
        // The frames after the 101 (all short: one length byte): "a" (compressed) and "b" first.
        const frames = (bytes: Uint8Array) => {
          const out: number[] = []; // first bytes
          const end = Buffer.from(bytes).indexOf("\r\n\r\n");
          if (end < 0) return out;
          let at = end + 4;
          while (at + 2 <= bytes.length && at + 2 + (bytes[at + 1]! & 0x7f) <= bytes.length) {
            out.push(bytes[at]!);
            at += 2 + (bytes[at + 1]! & 0x7f);
          }
          return out;
        };
        await within(
          raw.waitFor((b) => frames(b).length >= 2),
          "the two local publishes",
        );
        assert.deepEqual(frames(raw.received()), [0xc1, 0x81], "a: compressed, b: plain");
        // From another instance, with and without the flag: the first compressed (RSV1), the second not.
        adapter.fromElsewhere("t", new TextEncoder().encode(big), false, true);
        adapter.fromElsewhere("t", new TextEncoder().encode("short"), false, false);
        await within(
          raw.waitFor((b) => frames(b).length >= 4),
          "the two messages from elsewhere",
        );
        assert.deepEqual(frames(raw.received()), [0xc1, 0x81, 0xc1, 0x81]);
        raw.socket.destroy();
      },
      { pubsub: adapter },
    );
  });

  it("refuses an adapter that echoes this instance's own publishes (they would arrive twice)", () => {
    const echoing = Object.assign(new RecordingAdapter(), { localEcho: true });
    assert.throws(
      () => createServer({ pubsub: echoing }),
      (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, /localEcho/);
        return true;
      },
    );
    const plain = Object.assign(new RecordingAdapter(), { localEcho: false });
    assert.doesNotThrow(() => createServer({ pubsub: plain }));
  });
});

describe("publish with compress", () => {
  it("compresses once for sockets without context takeover, per socket for the others, in order", async () => {
    let opened = 0;
    let allOpen: () => void = () => {};
    const ready = new Promise<void>((r) => (allOpen = r));
    await withServer(
      (s) =>
        s.websocket(
          "/",
          {
            open(ws) {
              ws.subscribe("news");
              if (++opened === 5) allOpen();
            },
          },
          { deflate: { threshold: 0 } },
        ),
      async (port, server) => {
        const ext = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
        const raws = [await rawSocket(port), await rawSocket(port)];
        for (const r of raws) r.socket.write(UPGRADE("/", ext));
        const mk = (perMessageDeflate: boolean | object) => {
          const ws = new WS(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
          ws.on("error", () => {});
          const got: string[] = [];
          ws.on("message", (d) => got.push(String(d)));
          return { ws, got };
        };
        const clients = [mk({ serverNoContextTakeover: true, threshold: 0 }), mk({ threshold: 0 }), mk(false)];
        await ready;
        const big = "news ".repeat(2000);
        server.publish("news", big, { compress: true });
        server.publish("news", "plain in between");
        server.publish("news", `${big}2`, { compress: true });
        for (const c of clients) {
          while (c.got.length < 3) await new Promise((r) => c.ws.once("message", r));
          assert.deepEqual(c.got, [big, "plain in between", `${big}2`]);
        }
        // The two raw sockets (no context takeover) got the very same compressed frame bytes, RSV1 set.
        const bodies = await Promise.all(
          raws.map((r) =>
            r
              .waitFor((b) => b.indexOf("\r\n\r\n") >= 0 && b.length > b.indexOf("\r\n\r\n") + 4 + 40)
              .then((b) => b.subarray(b.indexOf("\r\n\r\n") + 4)),
          ),
        );
        assert.match(raws[0]?.received().toString() ?? "", /server_no_context_takeover/);
        assert.equal((bodies[0]?.[0] ?? 0) & 0x40, 0x40);
        assert.ok(((bodies[0]?.[1] ?? 0) & 0x7f) < 126, "compressed 10,000 bytes of text into a small frame");
        const len = 2 + ((bodies[0]?.[1] ?? 0) & 0x7f);
        assert.deepEqual(bodies[0]?.subarray(0, len), bodies[1]?.subarray(0, len));
        for (const c of clients) c.ws.close();
        for (const r of raws) r.socket.destroy();
      },
    );
  });
});

describe("broadcast and prepare with compress", () => {
  it("compress once per window size for sockets without context takeover; the others compress themselves or get the plain frame", async () => {
    const sockets: WebSocket[] = [];
    let allOpen: () => void = () => {};
    const ready = new Promise<void>((r) => (allOpen = r));
    await withServer(
      (s) =>
        s.websocket(
          "/",
          {
            open(ws) {
              sockets.push(ws);
              if (sockets.length === 5) allOpen();
            },
          },
          { deflate: { threshold: 0 } },
        ),
      async (port, server) => {
        const ext = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
        const raws = [await rawSocket(port), await rawSocket(port)];
        for (const r of raws) r.socket.write(UPGRADE("/", ext));
        const mk = (perMessageDeflate: boolean | object) => {
          const ws = new WS(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
          ws.on("error", () => {});
          const got: string[] = [];
          ws.on("message", (d) => got.push(String(d)));
          return { ws, got };
        };
        const clients = [mk({ serverNoContextTakeover: true, threshold: 0 }), mk({ threshold: 0 }), mk(false)];
        await ready;
        const big = "broadcast ".repeat(1000);
        server.broadcast(big, { compress: true });
        const prepared = server.prepare(`${big}2`, { compress: true });
        for (const ws of sockets) assert.notEqual(ws.send(prepared), -1);
        for (const c of clients) {
          while (c.got.length < 2) await new Promise((r) => c.ws.once("message", r));
          assert.deepEqual(c.got, [big, `${big}2`]);
        }
        // Both raw sockets got the same two compressed frames (RSV1 set, small), byte for byte.
        const framesOf = (b: Uint8Array) => {
          const out: Uint8Array[] = [];
          let o = 0;
          while (o + 2 <= b.length) {
            const len = 2 + ((b[o + 1] ?? 0) & 0x7f);
            out.push(b.subarray(o, o + len));
            o += len;
          }
          return out;
        };
        const bodies = await Promise.all(
          raws.map((r) =>
            r
              .waitFor((b) => {
                const h = b.indexOf("\r\n\r\n");
                return h >= 0 && framesOf(b.subarray(h + 4)).length >= 2;
              })
              .then((b) => framesOf(b.subarray(b.indexOf("\r\n\r\n") + 4))),
          ),
        );
        for (const f of bodies[0] ?? []) {
          assert.equal((f[0] ?? 0) & 0x40, 0x40, "RSV1: compressed");
          assert.ok(((f[1] ?? 0) & 0x7f) < 126, "10,000 bytes of text compressed into a small frame");
        }
        assert.deepEqual(bodies[0]?.slice(0, 2), bodies[1]?.slice(0, 2));
        assert.ok(
          prepared.deflated instanceof Uint8Array,
          "the 15-bit compressed frame is kept on the prepared message",
        );
        for (const c of clients) c.ws.close();
        for (const r of raws) r.socket.destroy();
      },
    );
  });
});

describe("event facade", () => {
  it("on('connection' | 'message' | 'close'), off, send, setUserData/getUserData, broadcast(message, binary)", async () => {
    const log: string[] = [];
    let closed: () => void = () => {};
    const gotClose = new Promise<void>((r) => (closed = r));
    await withServer(
      (s) => {
        s.on("connection", (ws) => {
          s.setUserData(ws, { n: 0 });
          s.send(ws, "welcome");
          s.send(ws, new Uint8Array([9]), true);
        });
        s.on("message", (ws, data, isBinary) => {
          const d = s.getUserData(ws) as { n: number };
          d.n++;
          s.send(ws, `echo:${data}`, isBinary);
        });
        s.on("close", (ws, code) => {
          log.push(`close ${code} n=${(s.getUserData(ws) as { n: number }).n}`);
          if (log.length === 2) closed();
        });
        const removed = () => log.push("removed listener called");
        s.on("message", removed);
        s.off("message", removed);
      },
      async (port, s) => {
        const c = await wsClient(`ws://127.0.0.1:${port}/anything`);
        assert.deepEqual(await c.next(), { data: "welcome", binary: false });
        assert.deepEqual(await c.next(), { data: new Uint8Array([9]), binary: true });
        c.send("a");
        c.send("b");
        assert.equal((await c.next()).data, "echo:a");
        assert.equal((await c.next()).data, "echo:b");
        const other = await wsClient(`ws://127.0.0.1:${port}/elsewhere`);
        assert.equal((await other.next()).data, "welcome");
        await other.next();
        s.broadcast("to all", false);
        s.broadcast(new Uint8Array([5, 6]), true);
        for (const x of [c, other]) {
          assert.deepEqual(await x.next(), { data: "to all", binary: false });
          assert.deepEqual(await x.next(), { data: new Uint8Array([5, 6]), binary: true });
        }
        other.close(1000);
        await other.closed;
        c.close(1000);
        await gotClose;
        assert.deepEqual(log, ["close 1000 n=0", "close 1000 n=2"]);
      },
    );
  });
});

describe("client connect()", () => {
  it("talks to a server, with ping/pong, protocols, deflate and close", async () => {
    await withServer(
      (s) =>
        s.websocket(
          "/e",
          {
            message(ws, data, binary) {
              ws.send(data, { binary });
            },
          },
          { deflate: true, protocols: ["p1"] },
        ),
      async (port) => {
        let pong = "";
        let pongResolve: () => void = () => {};
        const gotPong = new Promise<void>((r) => (pongResolve = r));
        const messages: (string | Uint8Array)[] = [];
        let msgResolve: () => void = () => {};
        const gotMsgs = new Promise<void>((r) => (msgResolve = r));
        const ws = await connect(`ws://127.0.0.1:${port}/e`, {
          protocols: ["p1"],
          deflate: true,
          handler: {
            pong(_ws, d) {
              pong = new TextDecoder().decode(d);
              pongResolve();
            },
            message(_ws, d) {
              messages.push(d);
              if (messages.length === 2) msgResolve();
            },
          },
        });
        assert.equal(ws.protocol, "p1");
        assert.match(ws.extensions, /permessage-deflate/);
        ws.ping("abc");
        await gotPong;
        assert.equal(pong, "abc");
        ws.send("x".repeat(10_000));
        ws.send(new Uint8Array(3));
        await gotMsgs;
        assert.equal(messages[0], "x".repeat(10_000));
        assert.deepEqual([...(messages[1] as Uint8Array)], [0, 0, 0]);
        await assert.rejects(connect(`ws://127.0.0.1:${port}/missing`));
        ws.close();
      },
    );
  });
});

describe("handleUpgrade (node:http adoption)", () => {
  it("mounts a wirehouse endpoint on an existing node:http server (Node, and node:http on Deno and Bun)", async () => {
    const http = await import("node:http");
    const server = createServer();
    server.websocket("/ws", {
      message(ws, data) {
        ws.send(`adopted:${data}`);
      },
    });
    const httpServer = http.createServer((_req, res) => res.end("plain http"));
    httpServer.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket as never, head));
    await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
    const port = (httpServer.address() as { port: number }).port;
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "plain http");
      const c = await wsClient(`ws://127.0.0.1:${port}/ws`);
      c.send("hi");
      assert.equal((await c.next()).data, "adopted:hi");
      c.close();
      await c.closed;
    } finally {
      await server.close({ deadline: 200 });
      await new Promise((r) => httpServer.close(r));
    }
  });
});
