// Peer server: Deno's built-in WebSocket server (Deno.serve + Deno.upgradeWebSocket).
//   deno run -A servers/deno-ws.ts --port 9001
// Any path echoes every message as received; /broadcast sends every message from any client to all
// clients connected on /broadcast, sender included (Deno has no publish: a loop over the set).
// Prints `ready port=<port> pid=<pid>` once listening.
declare const Deno: {
  args: string[];
  pid: number;
  serve(options: unknown, handler: (req: Request) => Response): unknown;
  upgradeWebSocket(req: Request): { socket: WebSocket; response: Response };
  addSignalListener(signal: string, handler: () => void): void;
  exit(code: number): never;
};

const arg = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
};

const subscribers = new Set<WebSocket>();

const server = Deno.serve(
  {
    port: Number(arg("port", "9001")),
    hostname: arg("host", "127.0.0.1"),
    onListen: ({ port }: { port: number }) => console.log(`ready port=${port} pid=${Deno.pid}`),
  },
  (req: Request) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("WebSocket only\n", { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    if (new URL(req.url).pathname === "/broadcast") {
      socket.onopen = () => subscribers.add(socket);
      socket.onclose = () => subscribers.delete(socket);
      socket.onerror = () => subscribers.delete(socket);
      socket.onmessage = (e: MessageEvent) => {
        for (const s of subscribers) if (s.readyState === 1) s.send(e.data);
      };
    } else {
      socket.onmessage = (e: MessageEvent) => socket.send(e.data);
      socket.onerror = () => {};
    }
    return response;
  },
);
void server;
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
