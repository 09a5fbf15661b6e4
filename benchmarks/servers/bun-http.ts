// Peer server: Bun.serve answering from bodies cached in memory.
//   bun servers/bun-http.ts --port 8080
// GET /4k -> 4,096 bytes, GET /256k -> 262,144 bytes; anything else 404.
// Prints `ready port=<port> pid=<pid>` once listening.
declare const Bun: { serve(options: unknown): { port: number } };

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const body = (size: number) => new Uint8Array(size).fill(0x61);
const files: Record<string, Uint8Array> = { "/4k": body(4096), "/256k": body(262144) };
const headers = { "content-type": "application/octet-stream" };

const server = Bun.serve({
  port: Number(arg("port", "8080")),
  hostname: arg("host", "127.0.0.1"),
  fetch(req: Request) {
    const path = req.url.slice(req.url.indexOf("/", 8));
    const data = files[path];
    if (!data) return new Response("not found\n", { status: 404 });
    return new Response(data, { headers });
  },
});
console.log(`ready port=${server.port} pid=${process.pid}`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
