/**
 * Every close path and code, seen from both ends: per client (ours, `ws`, the runtime's built-in
 * WebSocket where there is one) for what that client can do, and with raw sockets for what no
 * well-behaved client does (protocol errors, silence).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoderEvent, encodeFrameBytes, MessageDecoder, Opcode } from "@wirehouse/codec";
import WS from "ws";
import { connect, createServer, type Server, type WebSocket } from "../src/index.ts";
import { clients, rawSocket, UPGRADE } from "./helpers.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

interface Seen {
  code: number;
  reason: string;
}

/** A server whose endpoint obeys commands ("close 4001 bye", "terminate", "throw", "flood") and reports closes. */
async function withServer(fn: (port: number, closes: () => Promise<Seen>) => Promise<void>): Promise<void> {
  const server: Server = createServer();
  const seen: Seen[] = [];
  const waiters: ((s: Seen) => void)[] = [];
  server.websocket(
    "/c",
    {
      message(ws: WebSocket, data) {
        const cmd = String(data).split(" ");
        if (cmd[0] === "close") ws.close(cmd[1] ? Number(cmd[1]) : undefined, cmd.slice(2).join(" "));
        else if (cmd[0] === "terminate") ws.terminate();
        else if (cmd[0] === "throw") throw new Error("handler failure");
        else if (cmd[0] === "flood") for (let i = 0; i < 20; i++) ws.send(new Uint8Array(256 * 1024));
        else ws.send(data);
      },
      close(_ws, code, reason) {
        const w = waiters.shift();
        if (w) w({ code, reason });
        else seen.push({ code, reason });
      },
    },
    { maxBackpressure: 1024 * 1024, closeOnBackpressureLimit: true, maxPayload: 100_000 },
  );
  const next = () => {
    const s = seen.shift();
    return s ? Promise.resolve(s) : new Promise<Seen>((r) => waiters.push(r));
  };
  const { port } = await server.listen({ port: 0 });
  try {
    await fn(port, next);
  } finally {
    await server.close({ deadline: 1000 });
  }
}

for (const [name, make] of clients) {
  describe(`close paths with the ${name}`, () => {
    it("client closes with a code and reason; client closes without a code (1005)", async () => {
      await withServer(async (port, serverSaw) => {
        const a = await make(`ws://127.0.0.1:${port}/c`);
        a.close(4000, "client bye");
        assert.equal((await a.closed).code, 4000);
        assert.deepEqual(await serverSaw(), { code: 4000, reason: "client bye" });
        const b = await make(`ws://127.0.0.1:${port}/c`);
        if (name === "wirehouse client") b.close(1005);
        else b.close();
        assert.equal((await b.closed).code, 1005);
        assert.deepEqual(await serverSaw(), { code: 1005, reason: "" });
      });
    });

    it("server closes with a code and reason, and with none (1000)", async () => {
      await withServer(async (port, serverSaw) => {
        const a = await make(`ws://127.0.0.1:${port}/c`);
        a.send("close 4001 server bye");
        assert.deepEqual(await a.closed, { code: 4001, reason: "server bye" });
        // RFC 6455 7.1.5: the close code is the one received, here the client's echo (its reason may be empty)
        assert.equal((await serverSaw()).code, 4001);
        const b = await make(`ws://127.0.0.1:${port}/c`);
        b.send("close");
        assert.equal((await b.closed).code, 1000);
        assert.equal((await serverSaw()).code, 1000);
      });
    });

    it("server terminate() and a handler that throws (1011) and a message over maxPayload (1009)", async () => {
      await withServer(async (port, serverSaw) => {
        const a = await make(`ws://127.0.0.1:${port}/c`);
        a.send("terminate");
        // Deno's built-in WebSocket reports an abnormal closure as code 0 (browsers and the others: 1006)
        const abnormal = name === "built-in WebSocket" && isDeno ? 0 : 1006;
        assert.equal((await a.closed).code, abnormal);
        assert.equal((await serverSaw()).code, 1006);
        const b = await make(`ws://127.0.0.1:${port}/c`);
        b.send("throw");
        assert.equal((await b.closed).code, 1011);
        assert.equal((await serverSaw()).code, 1011);
        const c = await make(`ws://127.0.0.1:${port}/c`);
        c.send(new Uint8Array(100_001));
        assert.equal((await c.closed).code, 1009);
        assert.equal((await serverSaw()).code, 1009);
      });
    });

    it("over maxBackpressure with closeOnBackpressureLimit (1008)", async () => {
      await withServer(async (port, serverSaw) => {
        const a = await make(`ws://127.0.0.1:${port}/c`);
        a.send("flood");
        // the queued binaries arrive first, then the close
        assert.equal((await a.closed).code, 1008);
        assert.equal((await serverSaw()).code, 1008);
      });
    });

    it("client drops the connection without a close frame (server sees 1006); invalid UTF-8 text (1007)", async (t) => {
      await withServer(async (port, serverSaw) => {
        const probe = await make(`ws://127.0.0.1:${port}/c`);
        if (probe.terminate === undefined || probe.sendRawText === undefined) {
          probe.close();
          await probe.closed;
          await serverSaw();
          t.diagnostic(`${name} cannot drop a connection or send invalid text: covered with raw sockets below`);
          return;
        }
        probe.terminate();
        assert.deepEqual(await serverSaw(), { code: 1006, reason: "" });
        const b = await make(`ws://127.0.0.1:${port}/c`);
        b.sendRawText?.(new Uint8Array([0x68, 0xff, 0x69]));
        assert.equal((await b.closed).code, 1007);
        assert.equal((await serverSaw()).code, 1007);
      });
    });
  });
}

/** Opens a raw upgraded connection to /c; returns the socket and a function decoding what came back. */
async function rawWs(port: number) {
  const raw = await rawSocket(port);
  raw.socket.write(UPGRADE("/c"));
  await raw.waitFor((b) => b.includes("\r\n\r\n"));
  const frames = (all: Buffer) => {
    const d = new MessageDecoder({ role: "client" });
    d.push(new Uint8Array(all.subarray(all.indexOf("\r\n\r\n") + 4)));
    const events: { ev: number; code: number }[] = [];
    for (let ev = d.next(); ev !== DecoderEvent.None && ev !== DecoderEvent.Error; ev = d.next())
      events.push({ ev, code: ev === DecoderEvent.Close ? d.closeCode : 0 });
    return events;
  };
  return { raw, frames };
}

const closeCodeOf = (events: { ev: number; code: number }[]) => events.find((e) => e.ev === DecoderEvent.Close)?.code;

describe("close paths with raw sockets (protocol errors)", () => {
  const cases: [string, Uint8Array, number][] = [
    ["an unmasked frame", encodeFrameBytes(Opcode.Text, new TextEncoder().encode("x")), 1002],
    ["a reserved opcode", new Uint8Array([0x83, 0x80, 0, 0, 0, 0]), 1002],
    ["RSV1 without an extension", new Uint8Array([0xc1, 0x81, 0, 0, 0, 0, 0x78]), 1002],
    ["a fragmented control frame", new Uint8Array([0x09, 0x80, 0, 0, 0, 0]), 1002],
    ["a control frame over 125 bytes", new Uint8Array([0x89, 0xfe, 0, 126, 0, 0, 0, 0, ...new Uint8Array(126)]), 1002],
    ["a continuation without a start", encodeFrameBytes(Opcode.Continuation, new Uint8Array(1), { mask: true }), 1002],
    ["an invalid close code (999)", encodeFrameBytes(Opcode.Close, new Uint8Array([0x03, 0xe7]), { mask: true }), 1002],
    [
      "a close reason that is not UTF-8",
      encodeFrameBytes(Opcode.Close, new Uint8Array([0x03, 0xe8, 0xff]), { mask: true }),
      1007,
    ],
    ["invalid UTF-8 text", encodeFrameBytes(Opcode.Text, new Uint8Array([0x68, 0xff]), { mask: true }), 1007],
  ];
  it("answers each protocol error with its close code and reports it to the close handler", async () => {
    await withServer(async (port, serverSaw) => {
      for (const [what, bytes, code] of cases) {
        const { raw, frames } = await rawWs(port);
        raw.socket.write(bytes);
        const events = frames(await raw.ended);
        assert.equal(closeCodeOf(events), code, what);
        assert.equal((await serverSaw()).code, code, what);
      }
    });
  });

  it("a peer that never answers the server's close frame is disconnected after 2 s", async () => {
    await withServer(async (port, serverSaw) => {
      const { raw, frames } = await rawWs(port);
      raw.socket.write(encodeFrameBytes(Opcode.Text, new TextEncoder().encode("close 4002 go"), { mask: true }));
      const t = Date.now();
      const events = frames(await raw.ended);
      assert.equal(closeCodeOf(events), 4002);
      assert.ok(Date.now() - t >= 1500, "the server waited for the peer's close frame");
      assert.equal((await serverSaw()).code, 4002);
    });
  });

  it("our client with autoPong: false leaves pings to its ping handler; unanswered, the server closes 1011", async () => {
    const server = createServer();
    server.websocket("/p", {}, { pingInterval: 0.2, pongTimeout: 0.2 });
    const { port } = await server.listen({ port: 0 });
    try {
      const pings: number[] = [];
      let closed!: (code: number) => void;
      const code = new Promise<number>((r) => {
        closed = r;
      });
      await connect(`ws://127.0.0.1:${port}/p`, {
        autoPong: false,
        handler: { ping: (_ws, data) => pings.push(data.length), close: (_ws, c) => closed(c) },
      });
      assert.equal(await code, 1011);
      assert.deepEqual(pings, [0]);
    } finally {
      await server.close({ deadline: 500 });
    }
  });

  it("our client answers pings by default, so the server keeps it past several pong timeouts", async () => {
    const server = createServer();
    let pongs = 0;
    let threePongs!: () => void;
    const answered = new Promise<void>((r) => {
      threePongs = r;
    });
    server.websocket("/p", { pong: () => ++pongs === 3 && threePongs() }, { pingInterval: 0.1, pongTimeout: 0.1 });
    const { port } = await server.listen({ port: 0 });
    try {
      let code = 0;
      const ws = await connect(`ws://127.0.0.1:${port}/p`, {
        handler: {
          close: (_ws, c) => {
            code = c;
          },
        },
      });
      // Three answered pings span three pong timeouts: a client that did not answer would be gone by then.
      await answered;
      assert.equal(code, 0, "still open");
      ws.close(1000);
    } finally {
      await server.close({ deadline: 500 });
    }
  });

  it("a ws client that does not answer pings (autoPong: false) is closed with 1011", async () => {
    const server = createServer();
    server.websocket("/p", {}, { pingInterval: 0.2, pongTimeout: 0.2 });
    const { port } = await server.listen({ port: 0 });
    try {
      const ws = new WS(`ws://127.0.0.1:${port}/p`, { autoPong: false });
      ws.on("error", () => {});
      let pings = 0;
      ws.on("ping", () => pings++);
      const code = await new Promise<number>((r) => ws.once("close", r));
      assert.equal(pings, 1);
      assert.equal(code, 1011);
    } finally {
      await server.close({ deadline: 500 });
    }
  });
});
