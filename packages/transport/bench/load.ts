/**
 * Load generator for bench/echo.ts (run with Bun: the leanest client here).
 *   load.ts <port> <connections> <messageBytes> <warmupSeconds> <seconds>
 * Each connection keeps one message in flight: send, wait for as many bytes
 * back, send again. Prints one JSON line: messages/s and MB/s (one way).
 */
const [port, conns, size, warmup, seconds] = process.argv.slice(2).map(Number) as [
  number,
  number,
  number,
  number,
  number,
];
const B = (globalThis as unknown as { Bun: { connect(o: unknown): Promise<unknown> } }).Bun;
const msg = new Uint8Array(size).fill(97);

let counting = false;
let messages = 0;
let total = 0;
interface S {
  data: { got: number };
  write(b: Uint8Array): number;
  end(): void;
}
const sockets: S[] = [];
for (let i = 0; i < conns; i++) {
  sockets.push(
    (await B.connect({
      hostname: "127.0.0.1",
      port,
      data: { got: 0 },
      socket: {
        open(s: S) {
          s.data = { got: 0 };
        },
        data(s: S, d: Uint8Array) {
          s.data.got += d.byteLength;
          while (s.data.got >= size) {
            s.data.got -= size;
            total++;
            if (counting) messages++;
            s.write(msg);
          }
        },
      },
    })) as S,
  );
}
for (const s of sockets) s.write(msg);
await new Promise((r) => setTimeout(r, warmup * 1000));
counting = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const elapsed = (performance.now() - t0) / 1000;
const rate = messages / elapsed;
for (const s of sockets) s.end();
// `total` counts warm-up too: the bench divides the server's whole CPU time by it.
console.log(JSON.stringify({ messages, total, seconds: elapsed, rate, mbps: (rate * size) / 1e6 }));
process.exit(0);
