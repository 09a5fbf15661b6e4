// The load generator's TCP layer on the runtime running the test: raw libuv handles on Node, Bun.connect on
// Bun, node:net (Deno's compatibility layer) on Deno; and node:net everywhere.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Link, pickTransport, type Sink, type Transport } from "../src/transport.ts";
import { transportNet } from "../src/transport-node.ts";

/** A sink that collects what the transport reports. */
function collect() {
  const got: number[] = [];
  let connected!: () => void;
  let closed!: (v: { error?: string; code?: string }) => void;
  const whenConnected = new Promise<void>((r) => (connected = r));
  const whenClosed = new Promise<{ error?: string; code?: string }>((r) => (closed = r));
  let waiter: { n: number; resolve: () => void } | undefined;
  const sink: Sink = {
    onConnect: () => connected(),
    onBytes: (buf, n) => {
      for (let i = 0; i < n; i++) got.push(buf[i]!);
      if (waiter && got.length >= waiter.n) waiter.resolve();
    },
    onClose: (error, code) => closed({ ...(error ? { error } : {}), ...(code ? { code } : {}) }),
  };
  const bytes = (n: number) =>
    got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }));
  return { sink, got, whenConnected, whenClosed, bytes };
}

const runtime = process.versions.bun ? "bun" : (globalThis as { Deno?: unknown }).Deno ? "deno" : "node";
const expected = runtime === "bun" ? "bun" : runtime === "deno" ? "node:net" : "node:tcp_wrap";

for (const [label, make] of [
  [`pickTransport() (${expected} here)`, pickTransport],
  ["node:net", transportNet],
] as Array<[string, () => Transport]>) {
  describe(`transport: ${label}`, () => {
    let server: Server;
    let port = 0;
    const peers: Socket[] = [];

    before(async () => {
      server = createServer((s) => {
        peers.push(s);
        s.on("data", (d) => {
          // "bye" makes the server end the connection; anything else is echoed.
          if (d.toString() === "bye") s.end();
          else s.write(d);
        });
        s.on("error", () => {});
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      port = (server.address() as { port: number }).port;
    });

    after(async () => {
      for (const p of peers) p.destroy();
      await new Promise((r) => server.close(r));
    });

    it("is the runtime's cheapest kind where asked", () => {
      if (label.startsWith("pickTransport")) assert.equal(make().name, expected);
      else assert.equal(make().name, "node:net");
    });

    it("connects, writes in order and reads back, then reports the peer's close", async () => {
      const c = collect();
      const link: Link = make().connect({ host: "127.0.0.1", port, noDelay: true }, c.sink);
      await c.whenConnected;
      const a = new Uint8Array([1, 2, 3]);
      const b = new Uint8Array(70_000).map((_, i) => i & 0xff);
      link.write(a);
      link.write(b);
      await c.bytes(3 + b.length);
      assert.deepEqual(c.got.slice(0, 3), [1, 2, 3]);
      assert.deepEqual(Uint8Array.from(c.got.slice(3)), b);
      link.write(new TextEncoder().encode("bye"));
      assert.deepEqual(await c.whenClosed, {});
      link.reset(); // after close: nothing happens
    });

    it("binds the source address it is given", async () => {
      const c = collect();
      const link = make().connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1", noDelay: false }, c.sink);
      await c.whenConnected;
      link.write(new Uint8Array([9]));
      await c.bytes(1);
      assert.equal(peers.at(-1)!.remoteAddress?.replace(/^::ffff:/, ""), "127.0.0.1");
      link.reset();
    });

    it("reports a refused connection with its errno name", async () => {
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const closedPort = (probe.address() as { port: number }).port;
      await new Promise((r) => probe.close(r));
      const c = collect();
      make().connect({ host: "127.0.0.1", port: closedPort, noDelay: false }, c.sink);
      const r = await c.whenClosed;
      assert.equal(r.code, "ECONNREFUSED");
      assert.match(r.error!, /ECONNREFUSED/);
    });
  });
}
