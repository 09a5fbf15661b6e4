/**
 * Properties of the server socket's receiving side (WsSocket.receive: the decoder-free path for
 * whole small frames, then the codec's decoder), fed byte chunks directly, so each case controls
 * exactly where the stream is cut:
 * - any chunking of a valid client stream delivers the same messages and the same pongs;
 * - garbage (alone or after valid frames) never throws: the socket either waits for more bytes or
 *   closes with a protocol close code, and delivers only what the valid prefix held.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoderEvent, encodeFrameBytes, isValidCloseCode, MessageDecoder, Opcode } from "@wirehouse/codec";
import { TimerWheel } from "@wirehouse/transport";
import fc from "fast-check";
import type { ResolvedWsOptions, SocketOwner, WsEndpoint } from "../src/websocket.ts";
import { WsSocket } from "../src/websocket.ts";
import { concatBytes } from "./helpers.ts";

const enc = new TextEncoder();

type Message = { binary: false; text: string } | { binary: true; bytes: Uint8Array };

/** What a socket did: the messages its handler got, and the frames it wrote, decoded as a client would. */
interface Outcome {
  delivered: Message[];
  written: { ev: number; payload: number[]; code: number }[];
  ended: boolean;
}

const options: ResolvedWsOptions = {
  maxPayload: 1024,
  idleTimeoutMs: 0,
  resetIdleOnSend: false,
  maxLifetimeMs: 0,
  pingIntervalMs: 0,
  pongTimeoutMs: 0,
  autoPong: true,
  maxBackpressure: 1 << 30,
  closeOnBackpressureLimit: false,
  maxFrameSize: 0,
  highWaterMark: 1 << 20,
};

/**
 * A server-role socket over a fake transport connection, fed `chunks` in order. `copy`: the
 * chunk memory is reused after each call (as the transports' shared read buffers are), so
 * every chunk is overwritten with junk right after it is handed over.
 */
function feed(chunks: Uint8Array[], copy: boolean): Outcome {
  const delivered: Message[] = [];
  const out: Uint8Array[] = [];
  let ended = false;
  const conn = {
    allocate: (n: number) => new Uint8Array(n),
    write(data: Uint8Array | readonly Uint8Array[]) {
      for (const d of data instanceof Uint8Array ? [data] : data) out.push(d.slice());
      return true;
    },
    end() {
      ended = true;
    },
    destroy() {
      ended = true;
    },
    pause() {},
    resume() {},
    bufferedAmount: 0,
    closed: false,
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  };
  const owner: SocketOwner = {
    wheel: new TimerWheel({ driver: false }),
    socketClosed() {},
    subscribe() {},
    unsubscribe() {},
    publishFrom() {},
  };
  const endpoint: WsEndpoint = {
    owner,
    handler: {
      message(_ws, data, isBinary) {
        // Kept as given (no copy): with `copy`, the socket must not hand out views of reused memory.
        delivered.push(
          isBinary ? { binary: true, bytes: data as Uint8Array } : { binary: false, text: data as string },
        );
      },
    },
    options,
  };
  const ws = new WsSocket(conn as never, endpoint, "server", undefined, "", "", undefined);
  for (const chunk of chunks) {
    const mine = chunk.slice();
    ws.receive(mine, copy);
    if (copy) mine.fill(0xee);
  }
  const d = new MessageDecoder({ role: "client" });
  for (const o of out) d.push(o);
  const written: Outcome["written"] = [];
  for (let ev = d.next(); ev !== DecoderEvent.None && ev !== DecoderEvent.Error; ev = d.next()) {
    written.push({ ev, payload: [...d.data], code: ev === DecoderEvent.Close ? d.closeCode : 0 });
  }
  return { delivered, written, ended };
}

/** `bytes` cut at `cuts` (positions taken modulo the length, in any order). */
function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of at) {
    if (c > from) chunks.push(bytes.subarray(from, c));
    from = Math.max(from, c);
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

const mask = fc.uint8Array({ minLength: 4, maxLength: 4 });

/** One client message as masked frames (fragmented in up to three pieces), with pings between pieces. */
const clientMessage = fc
  .record({
    message: fc.oneof(
      fc.string({ maxLength: 140 }).map((text): Message => ({ binary: false, text })),
      fc.string({ unit: "grapheme", maxLength: 80 }).map((text): Message => ({ binary: false, text })),
      fc.uint8Array({ maxLength: 300 }).map((bytes): Message => ({ binary: true, bytes })),
    ),
    pieces: fc.integer({ min: 1, max: 3 }),
    ping: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }),
    keys: fc.array(mask, { minLength: 4, maxLength: 4 }),
  })
  .map(({ message, pieces, ping, keys }) => {
    const payload = message.binary ? message.bytes : enc.encode(message.text);
    const frames: Uint8Array[] = [];
    const size = Math.ceil(payload.length / pieces) || 1;
    const parts: Uint8Array[] = [];
    for (let at = 0; at < payload.length; at += size) parts.push(payload.subarray(at, at + size));
    if (parts.length === 0) parts.push(payload);
    parts.forEach((part, i) => {
      const f = encodeFrameBytes(i === 0 ? (message.binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation, part, {
        mask: keys[i % keys.length]!,
      });
      if (i < parts.length - 1) f[0] = f[0]! & 0x7f; // not FIN
      frames.push(f);
      if (ping !== undefined && i === 0) frames.push(encodeFrameBytes(Opcode.Ping, ping, { mask: keys[3]! }));
    });
    return { message, ping, bytes: concatBytes(...frames) };
  });

describe("WsSocket.receive properties", () => {
  it("any chunking of a valid stream delivers the same messages and pongs, copied or not", () => {
    fc.assert(
      fc.property(
        fc.array(clientMessage, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (messages, cuts, copy) => {
          const stream = concatBytes(...messages.map((m) => m.bytes));
          const got = feed(cutAt(stream, cuts), copy);
          assert.deepEqual(
            got.delivered,
            messages.map((m) => m.message),
          );
          const pongs = got.written.filter((w) => w.ev === DecoderEvent.Pong).map((w) => w.payload);
          assert.deepEqual(
            pongs,
            messages.filter((m) => m.ping !== undefined).map((m) => [...m.ping!]),
          );
          assert.equal(got.written.length, pongs.length, "nothing but pongs written");
          assert.equal(got.ended, false);
          // Whole, in one chunk: the same.
          assert.deepEqual(feed([stream], copy).delivered, got.delivered);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("garbage, alone or after valid frames, never throws: it waits, or closes with a protocol code", () => {
    fc.assert(
      fc.property(
        fc.array(clientMessage, { maxLength: 3 }),
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (valid, garbage, cuts, copy) => {
          const prefix = concatBytes(...valid.map((m) => m.bytes));
          const got = feed(cutAt(concatBytes(prefix, garbage), cuts), copy);
          // Everything the valid prefix held comes first, in order; the garbage may decode to more.
          assert.deepEqual(
            got.delivered.slice(0, valid.length),
            valid.map((m) => m.message),
          );
          const close = got.written.find((w) => w.ev === DecoderEvent.Close);
          if (close !== undefined) {
            // The decoder's verdict (1002, 1007, 1009), or a close frame in the garbage echoed
            // (any valid code, or none: 1005).
            assert.ok(isValidCloseCode(close.code) || close.code === 1005, `close code ${close.code}`);
            assert.equal(got.ended, true, "a close ends the connection");
            assert.equal(got.written.at(-1)?.ev, DecoderEvent.Close, "nothing written after the close");
          } else assert.equal(got.ended, false);
          // The same bytes whole give the same verdict.
          const whole = feed([concatBytes(prefix, garbage)], copy);
          assert.deepEqual(whole.delivered, got.delivered);
          assert.deepEqual(whole.written, got.written);
        },
      ),
      { numRuns: 400 },
    );
  });
});
