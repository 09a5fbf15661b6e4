/**
 * Echo server: every text or binary message comes back as received, on any path.
 * permessage-deflate is offered to clients that ask for it.
 *
 *   node --import tsx examples/echo/main.ts --port 9001 --host 127.0.0.1
 *   npx deno run -A examples/echo/main.ts --port 9001
 *   npx bun examples/echo/main.ts --port 9001
 * With `--cert FILE --key FILE` (PEM) it serves wss:// instead.
 */
import process from "node:process";
import { createServer } from "@wirehouse/server";
import { closeOnSignal, parseFlags, tlsFlags } from "../args.ts";

const { port, host } = parseFlags(9001);
const server = createServer({ limits: { maxConnections: 1_000_000 } });

server.websocket(
  "/*",
  {
    message(ws, data, isBinary) {
      ws.send(data, { binary: isBinary });
    },
  },
  { deflate: true, maxPayload: 64 * 1024 * 1024, origins: "*", idleTimeout: 0 },
);

const tls = tlsFlags();
const address = await server.listen({ port, hostname: host, ...(tls ? { tls } : {}) });
console.log(`ready port=${address.port} pid=${process.pid}`);
closeOnSignal(() => server.close({ deadline: 2000 }));
