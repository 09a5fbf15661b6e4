/**
 * An application engine as a class: override `onText` / `onBinary` in a subclass.
 * CPU-bound work goes to the server's worker pool (`server.jobs`), so the event loop
 * never blocks; sockets that stay quiet are pinged and closed when no pong comes.
 *
 *   text "sum N"   → runs job.ts on a worker, answers "sum N = …"
 *   text otherwise → "text: …";  binary → "binary N bytes checksum C" (checksum on a worker)
 *
 *   node --import tsx examples/engine/main.ts --port 8082 [--ping 20] [--pong-timeout 10]
 *   (a socket silent for --ping seconds is pinged, and closed with 1011 if no pong comes within --pong-timeout)
 */
import process from "node:process";
import { createServer, type Server, type WebSocket } from "@wirehouse/server";
import { closeOnSignal, numberFlag, parseFlags } from "../args.ts";

const JOB = new URL("./job.ts", import.meta.url);

export class Engine {
  constructor(
    readonly server: Server,
    readonly path = "/engine",
    /** Seconds of silence before a ping, and to wait for its pong. */
    readonly keepAlive = { pingInterval: 20, pongTimeout: 10 },
  ) {
    server.websocket(
      path,
      {
        open: (ws) => this.onOpen(ws),
        message: (ws, data, isBinary) =>
          isBinary ? this.onBinary(ws, data as Uint8Array) : this.onText(ws, data as string),
        close: (ws, code) => this.onClose(ws, code),
      },
      { pingInterval: keepAlive.pingInterval, pongTimeout: keepAlive.pongTimeout, idleTimeout: 0 },
    );
  }

  onOpen(ws: WebSocket): void {
    ws.send("engine ready");
  }

  async onText(ws: WebSocket, text: string): Promise<void> {
    const m = /^sum (\d+)$/.exec(text);
    if (m) {
      const n = Number(m[1]);
      const r = await this.server.jobs.run<{ sum: number }>(JOB, { n });
      ws.send(`sum ${n} = ${r.sum}`);
      return;
    }
    ws.send(`text: ${text}`);
  }

  async onBinary(ws: WebSocket, bytes: Uint8Array): Promise<void> {
    const r = await this.server.jobs.run<{ checksum: number }>(JOB, { bytes });
    ws.send(`binary ${bytes.length} bytes checksum ${r.checksum}`);
  }

  onClose(_ws: WebSocket, code: number): void {
    if (code === 1011) console.log("closed a socket that did not answer a ping (1011)");
  }
}

/** A subclass overriding the text handler only. */
class ShoutingEngine extends Engine {
  override async onText(ws: WebSocket, text: string): Promise<void> {
    if (text.startsWith("shout ")) ws.send(text.slice(6).toUpperCase());
    else await super.onText(ws, text);
  }
}

const { port, host } = parseFlags(8082);
const server = createServer();
new ShoutingEngine(server, "/engine", {
  pingInterval: numberFlag("ping", 20),
  pongTimeout: numberFlag("pong-timeout", 10),
});
const address = await server.listen({ port, hostname: host });
console.log(`ready port=${address.port} pid=${process.pid}`);
closeOnSignal(() => server.close({ deadline: 2000 }));
