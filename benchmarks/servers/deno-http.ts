// Peer server: Deno.serve answering from bodies cached in memory.
//   deno run -A servers/deno-http.ts --port 8080
// GET /4k -> 4,096 bytes, GET /256k -> 262,144 bytes; anything else 404.
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
const body = (size: number) => new Uint8Array(size).fill(0x61);
const files: Record<string, Uint8Array> = { "/4k": body(4096), "/256k": body(262144) };
const headers = { "content-type": "application/octet-stream" };

Deno.serve(
  {
    port: Number(arg("port", "8080")),
    hostname: arg("host", "127.0.0.1"),
    onListen: ({ port }: { port: number }) => console.log(`ready port=${port} pid=${Deno.pid}`),
  },
  (req: Request) => {
    const path = req.url.slice(req.url.indexOf("/", 8));
    const data = files[path];
    if (!data) return new Response("not found\n", { status: 404 });
    return new Response(data, { headers });
  },
);
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => Deno.exit(0));
