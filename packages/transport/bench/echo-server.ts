/**
 * Echo server for bench/echo.ts, on whichever runtime runs this file.
 *   echo-server.ts plain    the plainest echo the runtime offers
 *   echo-server.ts adapter  the same echo through @wirehouse/transport
 * Prints "port N cpu µs" once listening, "cpu µs" on "stats"; exits when stdin closes.
 */
import { listen } from "../src/index.ts";

const kind = process.argv[2] ?? "adapter";
const g = globalThis as unknown as {
  Bun?: {
    listen(o: unknown): { port: number };
  };
  Deno?: {
    listen(o: { hostname: string; port: number }): {
      addr: { port: number };
      accept(): Promise<{
        read(b: Uint8Array): Promise<number | null>;
        write(b: Uint8Array): Promise<number>;
        setNoDelay(b: boolean): void;
        close(): void;
      }>;
    };
  };
};

let port: number;
if (kind === "adapter") {
  const l = await listen(
    { port: 0, hostname: "127.0.0.1" },
    {
      data(conn, bytes) {
        // Writing the received bytes back without a copy is allowed (the ownership rule in types.ts).
        if (!conn.write(bytes)) conn.pause();
      },
      drain(conn) {
        conn.resume();
      },
    },
  );
  port = l.port;
} else if (g.Bun) {
  // Bun.listen echo: write what arrived (small ping-pong messages always fit the socket buffer).
  const l = g.Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s: { write(b: Uint8Array): number }, d: Uint8Array) {
        s.write(d);
      },
    },
  });
  port = l.port;
} else if (g.Deno) {
  const l = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
  port = l.addr.port;
  void (async () => {
    for (;;) {
      const c = await l.accept();
      c.setNoDelay(true);
      void (async () => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            let off = 0;
            while (off < n) off += await c.write(buf.subarray(off, n));
          }
        } catch {}
        try {
          c.close();
        } catch {}
      })();
    }
  })();
} else {
  const net = await import("node:net");
  const server = net.createServer({ noDelay: true } as object, (s) => {
    s.setNoDelay(true);
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
}
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
console.log(`port ${port} cpu ${cpu()}`);
// "stats" on stdin: print CPU time used so far (µs), so the bench can report CPU per message.
process.stdin.on("data", (d) => {
  if (String(d).includes("stats")) console.log(`cpu ${cpu()}`);
});
process.stdin.on("end", () => process.exit(0));
