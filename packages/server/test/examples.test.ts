/**
 * Starts each example in examples/ as a child process of the same runtime
 * (port 0) and talks to it over loopback.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoderEvent, MessageDecoder } from "@wirehouse/codec";
import WS from "ws";
import { startExample as start } from "./example-process.ts";
import { rawSocket, UPGRADE, wsClient } from "./helpers.ts";

describe("examples", () => {
  it("echo: text and binary come back as sent, with permessage-deflate", async () => {
    const app = await start("echo/main.ts");
    try {
      const c = await wsClient(`ws://127.0.0.1:${app.port}/`, { deflate: true });
      assert.match(c.extensions(), /permessage-deflate/);
      c.send("hello echo");
      assert.deepEqual(await c.next(), { data: "hello echo", binary: false });
      const bin = new Uint8Array(100_000).map((_, i) => i % 251);
      c.send(bin);
      assert.deepEqual(await c.next(), { data: bin, binary: true });
      c.close();
      await c.closed;
    } finally {
      await app.stop();
    }
  });

  it("chat: serves the page and publishes to the room only", async () => {
    const app = await start("chat/main.ts");
    try {
      const page = await (await fetch(`http://127.0.0.1:${app.port}/`)).text();
      assert.match(page, /new WebSocket/);
      const alice = await wsClient(`ws://127.0.0.1:${app.port}/chat/red?name=alice`);
      assert.deepEqual(JSON.parse(String((await alice.next()).data)), { from: "server", text: "alice joined" });
      const bob = await wsClient(`ws://127.0.0.1:${app.port}/chat/red?name=bob`);
      const carol = await wsClient(`ws://127.0.0.1:${app.port}/chat/blue?name=carol`);
      assert.equal(JSON.parse(String((await alice.next()).data)).text, "bob joined");
      assert.equal(JSON.parse(String((await bob.next()).data)).text, "bob joined");
      assert.equal(JSON.parse(String((await carol.next()).data)).text, "carol joined");
      alice.send("hi red");
      assert.deepEqual(JSON.parse(String((await bob.next()).data)), { from: "alice", text: "hi red" });
      assert.deepEqual(JSON.parse(String((await alice.next()).data)), { from: "alice", text: "hi red" });
      carol.send("hi blue");
      assert.deepEqual(JSON.parse(String((await carol.next()).data)), { from: "carol", text: "hi blue" });
      for (const c of [alice, bob, carol]) c.close();
    } finally {
      await app.stop();
    }
  });

  it("chat: the page's own script joins a room and chats, as in a browser (same-origin; other origins refused)", async () => {
    const app = await start("chat/main.ts");
    try {
      const origin = `http://127.0.0.1:${app.port}`;
      const html = await (await fetch(`${origin}/`)).text();
      const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
      const page = browserPage(origin);
      new Function("document", "location", "WebSocket", script)(page.document, page.location, page.WebSocket);
      assert.match(await page.logLine(), /^guest\d+ joined$/);
      assert.equal(page.el("status").textContent, "connected to lobby");
      page.el("text").value = "hello from the page";
      page.el("form").onsubmit?.({ preventDefault() {} });
      assert.match(await page.logLine(), /^guest\d+: hello from the page$/);
      page.close();
      // a page from another origin may not open the socket (same-origin default)
      const evil = new WS(`ws://127.0.0.1:${app.port}/chat/lobby`, { origin: "https://evil.example" });
      evil.on("error", () => {});
      const status = await new Promise<number>((r) =>
        evil.once("unexpected-response", (_q, res) => r(res.statusCode ?? 0)),
      );
      assert.equal(status, 403);
      evil.terminate();
    } finally {
      await app.stop();
    }
  });

  it("events: welcome text and binary, prefixed echo, user data read on close", async () => {
    const app = await start("events/main.ts");
    try {
      const c = await wsClient(`ws://127.0.0.1:${app.port}/`);
      assert.deepEqual(await c.next(), { data: "welcome 1", binary: false });
      assert.deepEqual(await c.next(), { data: new Uint8Array([1, 2, 3, 4]), binary: true });
      c.send("one");
      assert.equal((await c.next()).data, "echo: one");
      c.send(new Uint8Array([7]));
      assert.deepEqual(await c.next(), { data: new Uint8Array([0xee, 7]), binary: true });
      c.close(1000);
      await c.closed;
    } finally {
      const out = await app.stop();
      assert.match(out, /closed id=1 code=1000 messages=2/);
    }
  });

  it("engine: pings after inactivity; a client that answers stays, one that does not is closed with 1011", async () => {
    const app = await start("engine/main.ts", ["--ping", "0.2", "--pong-timeout", "0.3"]);
    try {
      const ws = new WS(`ws://127.0.0.1:${app.port}/engine`);
      ws.on("error", () => {});
      let pings = 0;
      const twoPings = new Promise<void>((r) => ws.on("ping", () => ++pings === 2 && r()));
      await new Promise((r) => ws.once("message", r)); // engine ready
      await twoPings; // answered automatically
      const reply = new Promise((r) => ws.once("message", (d) => r(String(d))));
      ws.send("shout still here");
      assert.equal(await reply, "STILL HERE");
      ws.close();
      const raw = await rawSocket(app.port);
      raw.socket.write(UPGRADE("/engine"));
      const all = await raw.ended;
      const d = new MessageDecoder({ role: "client" });
      d.push(new Uint8Array(all.subarray(all.indexOf("\r\n\r\n") + 4)));
      assert.equal(d.next(), DecoderEvent.Text);
      assert.equal(d.next(), DecoderEvent.Ping);
      assert.equal(d.next(), DecoderEvent.Close);
      assert.equal(d.closeCode, 1011);
    } finally {
      const out = await app.stop();
      assert.match(out, /did not answer a ping \(1011\)/);
    }
  });

  it("engine: overridden text handler, jobs on the worker pool", async () => {
    const app = await start("engine/main.ts");
    try {
      const c = await wsClient(`ws://127.0.0.1:${app.port}/engine`);
      assert.equal((await c.next()).data, "engine ready");
      c.send("shout hello");
      assert.equal((await c.next()).data, "HELLO");
      c.send("sum 10");
      assert.equal((await c.next()).data, "sum 10 = 385");
      c.send(new Uint8Array([1, 2]));
      assert.equal((await c.next()).data, "binary 2 bytes checksum 33");
      c.send("plain");
      assert.equal((await c.next()).data, "text: plain");
      c.close();
      await c.closed;
    } finally {
      await app.stop();
    }
  });
});

interface FakeElement {
  value: string;
  textContent: string;
  className: string;
  scrollTop: number;
  scrollHeight: number;
  onclick?: () => void;
  onsubmit?: (e: { preventDefault(): void }) => void;
  append(child: FakeElement): void;
}

/** Just enough DOM for examples/chat/index.html, and a WebSocket that sends the page's Origin like a browser. */
function browserPage(origin: string) {
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  const make = (): FakeElement => ({
    value: "",
    textContent: "",
    className: "",
    scrollTop: 0,
    scrollHeight: 0,
    append(child) {
      const w = waiters.shift();
      if (w) w(child.textContent);
      else lines.push(child.textContent);
    },
  });
  const elements = new Map<string, FakeElement>();
  const el = (id: string) => {
    let e = elements.get(id);
    if (e === undefined) {
      e = make();
      if (id === "room") e.value = "lobby";
      elements.set(id, e);
    }
    return e;
  };
  const sockets: WS[] = [];
  class BrowserWebSocket extends WS {
    constructor(url: string) {
      super(url, { origin });
      sockets.push(this);
      this.on("error", () => {});
    }
  }
  const u = new URL(origin);
  return {
    document: { getElementById: el, createElement: make },
    location: { protocol: u.protocol, host: u.host },
    WebSocket: BrowserWebSocket,
    el,
    logLine: () => {
      const l = lines.shift();
      return l !== undefined ? Promise.resolve(l) : new Promise<string>((r) => waiters.push(r));
    },
    close: () => {
      for (const s of sockets) s.close();
    },
  };
}
