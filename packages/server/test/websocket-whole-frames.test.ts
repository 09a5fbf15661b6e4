/**
 * The server's path for chunks made of whole small frames (WsSocket.receiveWhole, used until a
 * chunk needs the general decoder): several frames in one chunk, frames mixed with control frames,
 * fragments and split frames in the same chunk, non-ASCII and invalid UTF-8, maxPayload. Raw
 * sockets, so each case controls exactly which bytes arrive in one write.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoderEvent, encodeFrameBytes, MessageDecoder, Opcode } from "@wirehouse/codec";
import { createServer, type Server } from "../src/index.ts";
import { concatBytes, rawSocket, UPGRADE } from "./helpers.ts";

const enc = new TextEncoder();

interface Event {
  ev: number;
  text: string;
  bytes: number[];
  code: number;
}

function masked(opcode: number, payload: Uint8Array | string, fin = true): Uint8Array {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  const f = encodeFrameBytes(opcode as 1, data, { mask: true });
  if (!fin) f[0] = f[0]! & 0x7f;
  return f;
}

/** An echo endpoint (text stays text), a raw upgraded connection to it, and the frames it sent back. */
async function withEcho(
  maxPayload: number,
  fn: (send: (b: Uint8Array) => void, events: (count: number) => Promise<Event[]>) => Promise<void>,
): Promise<void> {
  const server: Server = createServer();
  server.websocket(
    "/e",
    {
      message(ws, data, isBinary) {
        ws.send(data, { binary: isBinary });
      },
    },
    { maxPayload },
  );
  const { port } = await server.listen({ port: 0 });
  try {
    const raw = await rawSocket(port);
    raw.socket.write(UPGRADE("/e"));
    const head = await raw.waitFor((b) => b.includes("\r\n\r\n"));
    assert.match(head.toString("latin1"), /^HTTP\/1\.1 101/);
    const decode = (all: Buffer): Event[] => {
      const d = new MessageDecoder({ role: "client" });
      d.push(new Uint8Array(all.subarray(all.indexOf("\r\n\r\n") + 4)));
      const out: Event[] = [];
      for (let ev = d.next(); ev !== DecoderEvent.None && ev !== DecoderEvent.Error; ev = d.next()) {
        out.push({
          ev,
          text: ev === DecoderEvent.Text ? new TextDecoder().decode(d.data) : "",
          bytes: ev === DecoderEvent.Binary ? [...d.data] : [],
          code: ev === DecoderEvent.Close ? d.closeCode : 0,
        });
      }
      return out;
    };
    await fn(
      (b) => raw.socket.write(b),
      async (count) => decode(await raw.waitFor((b) => decode(b).length >= count)),
    );
    raw.socket.destroy();
  } finally {
    await server.close({ deadline: 1000 });
  }
}

describe("whole small frames in one chunk (the decoder-free path)", () => {
  it("echoes several text and binary frames written at once, in order", async () => {
    await withEcho(1024, async (send, events) => {
      send(
        concatBytes(
          masked(Opcode.Text, "one"),
          masked(Opcode.Binary, new Uint8Array([1, 2, 3])),
          masked(Opcode.Text, ""),
        ),
      );
      const got = await events(3);
      assert.deepEqual(
        got.map((e) => [e.ev, e.text, e.bytes]),
        [
          [DecoderEvent.Text, "one", []],
          [DecoderEvent.Binary, "", [1, 2, 3]],
          [DecoderEvent.Text, "", []],
        ],
      );
    });
  });

  it("hands a ping, a fragmented message and a split frame after whole frames to the decoder", async () => {
    await withEcho(1024, async (send, events) => {
      const split = masked(Opcode.Text, "split across two writes");
      send(
        concatBytes(
          masked(Opcode.Text, "a"),
          masked(Opcode.Ping, "p"),
          masked(Opcode.Text, "frag", false),
          masked(Opcode.Continuation, "mented"),
          masked(Opcode.Text, "b"),
          split.subarray(0, 9),
        ),
      );
      send(concatBytes(split.subarray(9), masked(Opcode.Text, "after")));
      const got = await events(6);
      assert.deepEqual(
        got.map((e) => [e.ev, e.text]),
        [
          [DecoderEvent.Text, "a"],
          [DecoderEvent.Pong, ""],
          [DecoderEvent.Text, "fragmented"],
          [DecoderEvent.Text, "b"],
          [DecoderEvent.Text, "split across two writes"],
          [DecoderEvent.Text, "after"],
        ],
      );
    });
  });

  it("delivers valid non-ASCII text, and closes with 1007 on invalid UTF-8 after a good frame", async () => {
    await withEcho(1024, async (send, events) => {
      send(concatBytes(masked(Opcode.Text, "héllo ✓"), masked(Opcode.Text, new Uint8Array([0x68, 0xff, 0x69]))));
      const got = await events(2);
      assert.deepEqual(got[0], { ev: DecoderEvent.Text, text: "héllo ✓", bytes: [], code: 0 });
      assert.equal(got[1]?.ev, DecoderEvent.Close);
      assert.equal(got[1]?.code, 1007);
    });
  });

  it("closes with 1009 on a small frame over maxPayload", async () => {
    await withEcho(8, async (send, events) => {
      send(concatBytes(masked(Opcode.Text, "short"), masked(Opcode.Text, "longer than eight")));
      const got = await events(2);
      assert.deepEqual(
        got.map((e) => [e.ev, e.text, e.code]),
        [
          [DecoderEvent.Text, "short", 0],
          [DecoderEvent.Close, "", 1009],
        ],
      );
    });
  });

  it("closes with 1002 on an unmasked frame after whole ones", async () => {
    await withEcho(1024, async (send, events) => {
      send(concatBytes(masked(Opcode.Text, "ok"), encodeFrameBytes(Opcode.Text, enc.encode("x"))));
      const got = await events(2);
      assert.deepEqual(
        got.map((e) => [e.ev, e.code]),
        [
          [DecoderEvent.Text, 0],
          [DecoderEvent.Close, 1002],
        ],
      );
    });
  });
});
