// The runtime's floor for the echo benchmarks: @wirehouse/transport alone, doing no WebSocket work.
//   node --import tsx benchmarks/servers/floor-transport.ts --port 9001   (also deno run -A, bun)
//
// Not a WebSocket server: like floor.c it answers each connection's first request with a fixed 101
// (the accept value of the load generator's fixed key; the request is not parsed or checked) and then
// echoes every frame unmasked with the opcode it came with. No handshake parsing, no UTF-8 check, no
// handler, no timers: what is left is the runtime's own cost of one read callback and one write per
// message, the part of the echo no server written for this runtime can avoid. wirehouse's echo runs
// on the same transport, so the gap between the two rows is all the WebSocket work there is.
//
// Prints `ready port=<port> pid=<pid>` once listening.
import process from "node:process";
import { type Connection, listen } from "@wirehouse/transport";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? String(process.argv[i + 1]) : fallback;
};

const RESPONSE_101 = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);
/** Messages up to this size (the benchmarks send at most 16 KiB); a bigger frame closes the connection. */
const MAX_FRAME = 64 * 1024;

interface FloorState {
  upgraded: boolean;
  /** An unfinished frame from the previous read (copied: the read buffer is the transport's). */
  kept: Uint8Array | null;
}

/** Echoes the whole frames of `bytes`; returns the bytes consumed (the rest is an unfinished frame), or -1 to close. */
function echoFrames(conn: Connection<FloorState>, bytes: Uint8Array): number {
  let at = 0;
  const n = bytes.length;
  while (n - at >= 2) {
    const first = bytes[at]!;
    let length = bytes[at + 1]! & 0x7f;
    let head = 2;
    if (length === 126) {
      if (n - at < 4) break;
      length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
      head = 4;
    } else if (length === 127) {
      if (n - at < 10) break;
      length = 0;
      for (let i = 2; i < 10; i++) length = length * 256 + bytes[at + i]!;
      head = 10;
    }
    if ((bytes[at + 1]! & 0x80) === 0 || length > MAX_FRAME) return -1; // clients must mask
    if (n - at < head + 4 + length) break;
    if ((first & 0x0f) === 0x8) return -1; // close: end the connection
    const mask = at + head;
    const payload = mask + 4;
    const outHead = length < 126 ? 2 : 4;
    const frame = conn.allocate(outHead + length);
    frame[0] = first;
    if (length < 126) frame[1] = length;
    else {
      frame[1] = 126;
      frame[2] = length >> 8;
      frame[3] = length & 0xff;
    }
    for (let i = 0; i < length; i++) frame[outHead + i] = bytes[payload + i]! ^ bytes[mask + (i & 3)]!;
    conn.write(frame);
    at = payload + length;
  }
  return at;
}

const listener = await listen<FloorState>(
  { port: Number(arg("port", "9001")), hostname: arg("host", "127.0.0.1"), maxConnections: 1_000_000 },
  {
    open(conn) {
      conn.state = { upgraded: false, kept: null };
    },
    data(conn, bytes) {
      const state = conn.state!;
      if (!state.upgraded) {
        // The whole request head arrives in one read (it is ~170 bytes), as with floor.c.
        state.upgraded = true;
        conn.write(RESPONSE_101);
        return;
      }
      let input = bytes;
      if (state.kept !== null) {
        input = new Uint8Array(state.kept.length + bytes.length);
        input.set(state.kept);
        input.set(bytes, state.kept.length);
        state.kept = null;
      }
      const used = echoFrames(conn, input);
      if (used < 0) conn.end();
      else if (used < input.length) state.kept = input.slice(used);
    },
  },
);
console.log(`ready port=${listener.port} pid=${process.pid}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
