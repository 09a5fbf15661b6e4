// wirehouse HTTP server for the benchmark harness: bodies cached in memory.
//   node --import tsx benchmarks/servers/wirehouse-http.ts --port 8080 (or deno run -A / bun)
// GET /4k -> 4,096 bytes, GET /256k -> 262,144 bytes; anything else 404.
// Prints `ready port=<port> pid=<pid>` once listening.
import process from "node:process";
import { createServer } from "@wirehouse/server";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? String(process.argv[i + 1]) : fallback;
};
const headers: [string, string][] = [["content-type", "application/octet-stream"]];
const response = (size: number) => ({ status: 200, headers, body: new Uint8Array(size).fill(0x61) });
const r4k = response(4096);
const r256k = response(262144);

const server = createServer({ limits: { maxConnections: 1_000_000, keepAliveTimeoutMs: 60_000 } });
server.http("/4k", () => r4k, { methods: ["GET"] });
server.http("/256k", () => r256k, { methods: ["GET"] });

const { port } = await server.listen({ port: Number(arg("port", "8080")), hostname: arg("host", "127.0.0.1") });
console.log(`ready port=${port} pid=${process.pid}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
