// Peer server: Bun's built-in WebSocket server (Bun.serve, uWebSockets inside).
//   bun servers/bun-ws.ts --port 9001
// Any path echoes every message as received; /broadcast subscribes the socket to one topic and every
// message from any client is published to all of them, sender included (server.publish).
// Prints `ready port=<port> pid=<pid>` once listening.
interface Data {
  broadcast: boolean;
}
interface BunSocket {
  data: Data;
  subscribe(topic: string): void;
  send(message: string | Uint8Array): void;
}
interface BunServer {
  port: number;
  upgrade(req: Request, options: { data: Data }): boolean;
  publish(topic: string, message: string | Uint8Array): void;
}
declare const Bun: { serve(options: unknown): BunServer };

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};

const server = Bun.serve({
  port: Number(arg("port", "9001")),
  hostname: arg("host", "127.0.0.1"),
  fetch(req: Request, srv: BunServer) {
    const path = new URL(req.url).pathname;
    if (srv.upgrade(req, { data: { broadcast: path === "/broadcast" } })) return undefined;
    return new Response("WebSocket only\n", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws: BunSocket) {
      if (ws.data.broadcast) ws.subscribe("all");
    },
    message(ws: BunSocket, message: string | Uint8Array) {
      if (ws.data.broadcast) server.publish("all", message);
      else ws.send(message);
    },
  },
});
console.log(`ready port=${server.port} pid=${process.pid}`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
