// The echo floors (servers/floor.c, compiled with cc, and servers/floor-transport.ts on Node): they must
// answer the load generator's handshake and echo its frames exactly, or the floor rows measure nothing.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { EXPECTED_ACCEPT } from "../src/handshake.ts";
import { compileCommand, compiledBinary, removeCompiled } from "../src/native-build.ts";
import { FLOOR_NATIVE, FLOOR_TRANSPORT, repoRoot, serverCommand, serverTable, unavailable } from "../src/servers.ts";
import { suite } from "../src/suite.ts";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..");

// The compiled floor lives in a temporary directory: gone when these tests end (Deno's test runner does
// not run the module's process exit hook).
after(() => removeCompiled());

/** Starts a server argv and resolves with its process and port once it prints its ready line. */
function startServer(argv: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /ready port=(\d+) pid=\d+/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`${argv.join(" ")} exited (${code}) before it was ready`)));
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** A client frame: FIN, `opcode`, masked with a fixed key. */
function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const mask = [0x12, 0x34, 0x56, 0x78];
  const ext = payload.length < 126 ? 0 : 2;
  const frame = new Uint8Array(2 + ext + 4 + payload.length);
  frame[0] = 0x80 | opcode;
  if (ext === 0) frame[1] = 0x80 | payload.length;
  else {
    frame[1] = 0x80 | 126;
    frame[2] = payload.length >> 8;
    frame[3] = payload.length & 0xff;
  }
  frame.set(mask, 2 + ext);
  for (let i = 0; i < payload.length; i++) frame[2 + ext + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/** The server frame expected back: the same opcode and payload, unmasked. */
function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const ext = payload.length < 126 ? 0 : 2;
  const frame = new Uint8Array(2 + ext + payload.length);
  frame[0] = 0x80 | opcode;
  if (ext === 0) frame[1] = payload.length;
  else {
    frame[1] = 126;
    frame[2] = payload.length >> 8;
    frame[3] = payload.length & 0xff;
  }
  frame.set(payload, 2 + ext);
  return frame;
}

/** A raw TCP client that collects what it receives and resolves waits for a byte count. */
class RawClient {
  readonly socket: Socket;
  received = new Uint8Array(0);
  ended = false;
  private waiter: (() => void) | null = null;
  private want = 0;

  constructor(port: number) {
    this.socket = connect({ port, host: "127.0.0.1", noDelay: true });
    this.socket.on("data", (d: Uint8Array) => {
      const all = new Uint8Array(this.received.length + d.length);
      all.set(this.received);
      all.set(d, this.received.length);
      this.received = all;
      this.check();
    });
    this.socket.on("close", () => {
      this.ended = true;
      this.check();
    });
    this.socket.on("error", () => {});
  }

  private check(): void {
    if (this.waiter && (this.received.length >= this.want || this.ended)) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  /** Resolves with the first `n` bytes received since the last take (fewer if the connection closed). */
  async take(n: number): Promise<Uint8Array> {
    this.want = n;
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      this.check();
    });
    const out = this.received.slice(0, n);
    this.received = this.received.slice(n);
    return out;
  }

  closed(): Promise<void> {
    return this.take(Number.MAX_SAFE_INTEGER).then(() => undefined);
  }
}

const REQUEST =
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

async function upgraded(port: number): Promise<RawClient> {
  const c = new RawClient(port);
  c.socket.write(REQUEST);
  const head = new TextDecoder().decode(await c.take(129));
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.match(head, new RegExp(`\r\nSec-WebSocket-Accept: ${EXPECTED_ACCEPT.replace(/[+/]/g, "\\$&")}\r\n\r\n$`));
  return c;
}

function text(n: number): Uint8Array {
  return new TextEncoder().encode("abcdefghijklmnopqrstuvwxyz0123456789".repeat(Math.ceil(n / 36)).slice(0, n));
}

describe("echo floors: server rows", () => {
  const table = serverTable();
  const byId = (id: string) => table.find((s) => s.id === id)!;

  it("a native floor compiled from C and a transport floor per runtime, in the full 32 B echo only", () => {
    assert.equal(byId("floor-native").script, FLOOR_NATIVE);
    for (const rt of ["node", "deno", "bun"]) {
      assert.equal(byId(`floor-${rt}`).script, FLOOR_TRANSPORT);
      assert.equal(byId(`floor-${rt}`).wirehouse, undefined, "a floor carries no target");
    }
    const full = suite("full").scenarios;
    const echo32 = full.find((s) => s.id === "echo-32")!.servers;
    for (const id of ["floor-native", "floor-node", "floor-deno", "floor-bun"]) assert.ok(echo32.includes(id), id);
    // Each runtime's floor runs right before that runtime's wirehouse, which runs right before its peer.
    assert.deepEqual(echo32.slice(1, 4), ["floor-node", "wirehouse-node", "ws-node"]);
    for (const s of [...full.filter((x) => x.id !== "echo-32"), ...suite("quick").scenarios])
      assert.ok(!s.servers.some((id) => id.startsWith("floor-")), s.id);
  });

  it("a C row needs cc, and its command is the compiled program with --port last", () => {
    assert.match(unavailable(byId("floor-native"), () => false)!, /cc not installed/);
    assert.equal(
      unavailable(byId("floor-native"), () => true),
      undefined,
    );
    assert.deepEqual(compileCommand("/s/floor.c", "/b/floor"), ["cc", "-O2", "-o", "/b/floor", "/s/floor.c"]);
    const argv = serverCommand(byId("floor-native"), 7);
    assert.match(argv[0]!, /wirehouse-native-[^/]+\/floor$/);
    assert.deepEqual(argv.slice(1), ["--port", "7"]);
    assert.equal(compiledBinary(join(repoRoot, FLOOR_NATIVE)), argv[0], "compiled once per process");
  });
});

for (const floor of ["native", "transport"] as const) {
  describe(`echo floor (${floor}) on loopback`, () => {
    let server: { child: ChildProcess; port: number };

    before(async () => {
      const argv =
        floor === "native"
          ? [compiledBinary(join(repoRoot, FLOOR_NATIVE)), "--port", "0"]
          : ["node", "--import", "tsx", join(repoRoot, FLOOR_TRANSPORT), "--port", "0"];
      server = await startServer(argv);
    });

    after(() => stopServer(server.child));

    it("answers the handshake with the expected accept and echoes 32 B text and 16 KiB binary unmasked", async () => {
      const c = await upgraded(server.port);
      for (const [opcode, payload] of [
        [1, text(32)],
        [2, text(16384)],
        [1, new Uint8Array(0)],
      ] as const) {
        const expected = serverFrame(opcode, payload);
        c.socket.write(maskedFrame(opcode, payload));
        assert.deepEqual(await c.take(expected.length), expected);
      }
      c.socket.destroy();
    });

    it("finishes a frame split across writes, and ends the connection on a close frame", async () => {
      const c = await upgraded(server.port);
      const first = maskedFrame(1, text(20));
      const second = maskedFrame(2, text(300));
      // The first frame and half of the second in one write: the first's echo shows the server read them.
      const cut = 7;
      const joined = new Uint8Array(first.length + cut);
      joined.set(first);
      joined.set(second.subarray(0, cut), first.length);
      c.socket.write(joined);
      assert.deepEqual(await c.take(22), serverFrame(1, text(20)));
      c.socket.write(second.subarray(cut));
      assert.deepEqual(await c.take(304), serverFrame(2, text(300)));
      c.socket.write(maskedFrame(8, new Uint8Array([0x03, 0xe8])));
      await c.closed();
      assert.equal(c.ended, true);
      assert.equal(c.received.length, 0, "nothing after the close frame");
    });

    it("serves the load generator's echo (32 B, three connections)", async () => {
      const out = await new Promise<string>((resolve, reject) => {
        const lg = spawn(
          "node",
          [
            "--import",
            "tsx",
            "src/loadgen.ts",
            "echo",
            "--url",
            `ws://127.0.0.1:${server.port}/`,
            "--connections",
            "3",
            "--seconds",
            "0.5",
            "--warmup",
            "0.1",
            "--workers",
            "1",
            "--json",
          ],
          { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
        );
        let o = "";
        let e = "";
        lg.stdout!.on("data", (d) => {
          o += d;
        });
        lg.stderr!.on("data", (d) => {
          e += d;
        });
        const t = setTimeout(() => lg.kill("SIGKILL"), 30_000);
        lg.on("close", (code) => {
          clearTimeout(t);
          if (code === 0) resolve(o);
          else reject(new Error(`loadgen exit ${code}: ${e}`));
        });
      });
      const r = JSON.parse(out);
      assert.equal(r.opened, 3);
      assert.ok(r.messages > 0, "echoed messages");
      assert.equal(r.errors, 0);
    });
  });
}
