// wirehouse WebSocket server for the benchmark harness (Node, Deno, Bun: the same file).
//   node --import tsx benchmarks/servers/wirehouse-ws.ts --port 9001
//   deno run -A benchmarks/servers/wirehouse-ws.ts --port 9001 ; bun benchmarks/servers/wirehouse-ws.ts --port 9001
// Any path echoes every message as received (text stays text); /broadcast publishes every
// message from any client to all clients connected on /broadcast, sender included (the frame
// is encoded once and the same bytes are written to every subscriber).
// No permessage-deflate (like the peers). Prints `ready port=<port> pid=<pid>` once listening.
// With `--redis redis://127.0.0.1:PORT` publishes go through @wirehouse/pubsub-redis, so several instances
// pointing at one Redis form one /broadcast (local subscribers get each message synchronously, the other
// instances through Redis).
import process from "node:process";
import { createRedisPubSub } from "@wirehouse/pubsub-redis";
import { createServer } from "@wirehouse/server";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? String(process.argv[i + 1]) : fallback;
};

const redis = arg("redis", "");
// The server delivers its publishes to its own subscribers; the adapter carries them to the other instances.
const pubsub = redis ? createRedisPubSub({ url: redis }) : undefined;
if (pubsub) await pubsub.ready();
const server = createServer({ limits: { maxConnections: 1_000_000 }, ...(pubsub ? { pubsub } : {}) });
const options = { idleTimeout: 0, maxPayload: 64 * 1024 * 1024, origins: "*" as const };

server.websocket(
  "/broadcast",
  {
    open(ws) {
      ws.subscribe("all");
    },
    message(_ws, data, isBinary) {
      server.publish("all", data, { binary: isBinary });
    },
  },
  options,
);
server.websocket(
  "/*",
  {
    message(ws, data, isBinary) {
      ws.send(data, { binary: isBinary });
    },
  },
  options,
);

const { port } = await server.listen({ port: Number(arg("port", "9001")), hostname: arg("host", "127.0.0.1") });
console.log(`ready port=${port} pid=${process.pid}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(0));
