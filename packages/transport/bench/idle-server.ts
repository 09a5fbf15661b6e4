/**
 * Idle-connection memory for bench/idle-memory.ts: `idle-server.ts adapter|plain`.
 * Prints "port N"; on "stats" prints "rss BYTES connections N" after a GC.
 */
import { listen } from "../src/index.ts";

const kind = process.argv[2] ?? "adapter";
const g = globalThis as unknown as {
  Bun?: { listen(o: unknown): { port: number }; gc(force: boolean): void };
  Deno?: {
    listen(o: { hostname: string; port: number }): {
      addr: { port: number };
      accept(): Promise<{ read(b: Uint8Array): Promise<number | null> }>;
    };
  };
  gc?: () => void;
};
let open = 0;
let port: number;
if (kind === "adapter") {
  const l = await listen({ port: 0, hostname: "127.0.0.1", backlog: 4096 }, { data() {} });
  port = l.port;
  Object.defineProperty(globalThis, "__open", { get: () => l.connections });
} else if (g.Bun) {
  port = g.Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: () => open++, data() {}, close: () => open-- },
  }).port;
} else if (g.Deno) {
  const l = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
  port = l.addr.port;
  void (async () => {
    for (;;) {
      const c = await l.accept();
      open++;
      void (async () => {
        // The plainest Deno server keeps a read pending per connection, with its own buffer.
        const buf = new Uint8Array(4096);
        while ((await c.read(buf)) !== null) {}
        open--;
      })();
    }
  })();
} else {
  const net = await import("node:net");
  const server = net.createServer((s) => {
    open++;
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => open--);
  });
  await new Promise<void>((r) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, r));
  port = (server.address() as { port: number }).port;
}
const gc = () => {
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
};
console.log(`port ${port}`);
process.stdin.on("data", (d) => {
  if (!String(d).includes("stats")) return;
  gc();
  gc();
  const n = kind === "adapter" ? (globalThis as unknown as { __open: number }).__open : open;
  console.log(`rss ${process.memoryUsage().rss} connections ${n}`);
});
process.stdin.on("end", () => process.exit(0));
