/**
 * Chat rooms with publish/subscribe: open http://127.0.0.1:8080/ in two browser tabs.
 * Each socket on /chat/:room subscribes to its room; every message is published
 * to the room as JSON `{ from, text }`. With `--cert FILE --key FILE` (PEM) it serves
 * https:// and wss:// instead.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { createServer } from "@wirehouse/server";
import { closeOnSignal, parseFlags, tlsFlags } from "../args.ts";

interface Member {
  room: string;
  name: string;
}

const { port, host } = parseFlags(8080);
const page = readFileSync(new URL("./index.html", import.meta.url));
const server = createServer();
let guests = 0;

server.http("/", () => ({ headers: { "content-type": "text/html; charset=utf-8" }, body: page }), { methods: ["GET"] });

server.websocket<Member>(
  "/chat/:room",
  {
    upgrade(req) {
      const name = (req.query.get("name") || `guest${++guests}`).slice(0, 32);
      return { accept: true, data: { room: req.params.room ?? "lobby", name } };
    },
    open(ws) {
      ws.subscribe(ws.data.room);
      server.publish(ws.data.room, JSON.stringify({ from: "server", text: `${ws.data.name} joined` }));
    },
    message(ws, data, isBinary) {
      if (isBinary) return;
      server.publish(ws.data.room, JSON.stringify({ from: ws.data.name, text: String(data).slice(0, 2000) }));
    },
    close(ws) {
      server.publish(ws.data.room, JSON.stringify({ from: "server", text: `${ws.data.name} left` }));
    },
  },
  { idleTimeout: 300, pingInterval: 30 },
);

const tls = tlsFlags();
const address = await server.listen({ port, hostname: host, ...(tls ? { tls } : {}) });
console.log(`ready port=${address.port} pid=${process.pid}`);
closeOnSignal(() => server.close({ deadline: 2000 }));
