/**
 * Adoption by an existing node:http server (Express, Fastify, Koa…), like `ws`'s
 * handleUpgrade: `httpServer.on("upgrade", (req, socket, head) => handleUpgrade(server, req, socket, head))`.
 * The request head is re-serialised and fed to the same connection state machine,
 * so routing, accept hooks, origins and handlers behave exactly as on our listeners.
 */
import type { Connection } from "@wirehouse/transport";
import type { Server } from "./server.ts";

export interface NodeRequest {
  method?: string;
  url?: string;
  httpVersion: string;
  rawHeaders: string[];
}

export interface NodeSocket {
  remoteAddress?: string;
  remotePort?: number;
  writableLength: number;
  destroyed: boolean;
  encrypted?: boolean;
  write(data: Uint8Array, cb?: () => void): boolean;
  end(): void;
  destroy(error?: Error): void;
  pause(): void;
  resume(): void;
  setNoDelay?(v: boolean): void;
  on(event: string, fn: (...args: never[]) => void): void;
}

const encoder = new TextEncoder();

class NodeSocketConnection implements Connection<unknown> {
  state: unknown = undefined;
  constructor(private readonly socket: NodeSocket) {}
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "";
  }
  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }
  readonly alpnProtocol = "";
  readonly servername = "";
  get closed(): boolean {
    return this.socket.destroyed;
  }
  allocate(n: number): Uint8Array {
    return new Uint8Array(n);
  }
  write(data: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.socket.destroyed) return false;
    if (data instanceof Uint8Array) return this.socket.write(data);
    let ok = true;
    for (const d of data) ok = this.socket.write(d);
    return ok;
  }
  end(): void {
    this.socket.end();
  }
  destroy(error?: Error): void {
    this.socket.destroy(error);
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
}

/** Takes over an upgrade request from a node:http server. */
export function handleUpgrade(server: Server, req: NodeRequest, socket: NodeSocket, head: Uint8Array): void {
  let text = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  text += "\r\n";
  socket.setNoDelay?.(true);
  const conn = new NodeSocketConnection(socket);
  const c = server.adopt(conn, socket.encrypted === true);
  let closed = false;
  socket.on("data", ((chunk: Uint8Array) => c.data(chunk)) as never);
  socket.on("drain", (() => c.drain()) as never);
  socket.on("error", (() => {}) as never);
  socket.on("close", (() => {
    if (closed) return;
    closed = true;
    server.forget(c);
    c.closed();
  }) as never);
  c.data(encoder.encode(text));
  if (head.length > 0) c.data(head);
}
