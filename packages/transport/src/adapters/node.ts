/**
 * Node adapter: `node:net` and `node:tls`.
 *
 * Writes: the tick's chunks are joined (or, when large, corked and written
 * together so libuv issues one writev) and handed to the socket once per tick.
 * Reads: Node allocates a fresh buffer per read (64 KiB reads); server-side
 * `onread` with a reusable buffer is not available for accepted sockets in
 * Node 20, so buffers are not reused here (consumers follow the ownership
 * rule in types.ts anyway, which lets other adapters reuse).
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { BaseConnection, type Settings, settingsFrom } from "../connection-base.ts";
import { TransportError } from "../errors.ts";
import { ListenerCore } from "../listener-core.ts";
import type { Adapter, ClientTlsOptions, Connection, ConnectOptions, Handlers, ListenOptions } from "../types.ts";

/** Above this many queued bytes, chunks are corked and written separately (writev) instead of copied into one. */
const JOIN_LIMIT = 64 * 1024;

const kConn = Symbol("wirehouse.conn");
type Sock = net.Socket & { [kConn]?: NodeConnection<unknown> };

class NodeConnection<S> extends BaseConnection<S> {
  readonly socket: Sock;
  private flushed: (() => void) | null = null;

  constructor(settings: Settings<S>, socket: net.Socket) {
    super(settings);
    this.socket = socket as Sock;
    this.socket[kConn] = this as NodeConnection<unknown>;
    this.remoteAddress = socket.remoteAddress ?? "";
    this.remotePort = socket.remotePort ?? 0;
    if (settings.noDelay) socket.setNoDelay(true);
  }

  runtimeBuffered(): number {
    return this.socket.writableLength;
  }

  flush(): void {
    const s = this.socket;
    const q = this.queue;
    if (q !== null && q.length > 0) {
      // Only when `drain` is owed do we ask for a callback: it fires once the bytes reached the kernel.
      const cb = this.wantDrain ? (this.flushed ??= () => this.maybeDrain()) : undefined;
      if (q.length > 1 && this.queued > JOIN_LIMIT) {
        s.cork();
        for (let i = 0; i < q.length; i++) s.write(q[i]!, i === q.length - 1 ? cb : undefined);
        q.length = 0;
        this.queued = 0;
        s.uncork();
      } else {
        s.write(this.takeQueue()!, cb);
      }
    }
    if (this.ending && !s.writableEnded) s.end();
  }

  abort(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

function onData(this: Sock, chunk: Uint8Array): void {
  this[kConn]!.received(chunk);
}
function onEnd(this: Sock): void {
  // allowHalfOpen is on so that writes queued in this tick still go out: end after them.
  this[kConn]!.end();
}
function onError(this: Sock, err: Error): void {
  const c = this[kConn];
  if (c !== undefined && c.error === undefined) c.error = err;
}
function onClose(this: Sock): void {
  this[kConn]!.gone();
}
function onDrain(this: Sock): void {
  this[kConn]!.maybeDrain();
}

function attach<S>(settings: Settings<S>, socket: net.Socket): NodeConnection<S> {
  const conn = new NodeConnection(settings, socket);
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("error", onError);
  socket.on("close", onClose);
  socket.on("drain", onDrain);
  return conn;
}

const decoder = new TextDecoder();
function pem(v: string | Uint8Array): string {
  return typeof v === "string" ? v : decoder.decode(v);
}

function alpnList(alpn: string[] | undefined): string[] {
  return alpn ?? ["http/1.1"];
}

/** "*.example.com" matches "a.example.com" but not "example.com" or "a.b.example.com". */
export function matchServername(pattern: string, name: string): boolean {
  pattern = pattern.toLowerCase();
  name = name.toLowerCase();
  if (pattern === name) return true;
  if (!pattern.startsWith("*.")) return false;
  const dot = name.indexOf(".");
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}

function nodeReusePortSupported(): boolean {
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
  return major > 22 || (major === 22 && minor >= 12);
}

class NodeListener<S> extends ListenerCore<S> {
  readonly adapter = "node" as const;
  server!: net.Server;

  protected stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      // server.close's callback waits for every connection; we track those ourselves.
      this.server.close();
      resolve();
    });
  }

  async start(options: ListenOptions): Promise<void> {
    const settings = this.settings;
    const accept = (socket: net.Socket) => {
      const conn = attach(settings, socket);
      if (!this.admit(conn)) {
        conn.closed = true;
        socket.destroy();
        return;
      }
      conn.alpnProtocol = (socket as tls.TLSSocket).alpnProtocol || "";
      conn.servername = ((socket as tls.TLSSocket).servername as string | false | undefined) || "";
      conn.opened();
    };
    const t = options.tls;
    if (t !== undefined) {
      const contexts: [string, tls.SecureContext][] = [];
      for (const [name, ck] of Object.entries(t.sni ?? {})) {
        contexts.push([name, tls.createSecureContext({ cert: pem(ck.cert), key: pem(ck.key) })]);
      }
      const server = tls.createServer({
        cert: pem(t.cert),
        key: pem(t.key),
        ALPNProtocols: alpnList(t.alpn),
        allowHalfOpen: true,
        SNICallback:
          contexts.length === 0
            ? undefined
            : (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
                for (const [pattern, ctx] of contexts) if (matchServername(pattern, name)) return cb(null, ctx);
                cb(null, undefined); // default certificate
              },
      });
      server.on("secureConnection", accept);
      server.on("tlsClientError", (_err, socket) => socket.destroy());
      this.server = server;
    } else {
      this.server = net.createServer({ allowHalfOpen: true }, accept);
    }
    const server = this.server;
    // maxConnections is checked by admit() in `accept`, not with server.maxConnections:
    // Deno's node:net drops silently without the 'drop' event, so it could not be counted.
    if (options.reusePort && !nodeReusePortSupported()) {
      throw new TransportError(
        "ERR_REUSE_PORT_UNSUPPORTED",
        `reusePort needs Node >= 22.12 (this is ${process.version}); use workers() from @wirehouse/transport (node:cluster) instead`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const listenOptions: net.ListenOptions & { reusePort?: boolean } = {
        port: options.port ?? 0,
        host: options.hostname ?? "0.0.0.0",
        backlog: options.backlog ?? 511,
      };
      if (options.reusePort) listenOptions.reusePort = true;
      server.listen(listenOptions, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address() as net.AddressInfo;
    this.port = addr.port;
    this.address = addr.address;
  }
}

export const nodeAdapter: Adapter = {
  name: "node",
  async listen<S>(options: ListenOptions, handlers: Handlers<S>) {
    const l = new NodeListener<S>(options, handlers);
    await l.start(options);
    return l;
  },
  connect<S>(options: ConnectOptions, handlers: Handlers<S>): Promise<Connection<S>> {
    const settings = settingsFrom(options, handlers, options.wheel ?? null, null);
    return new Promise((resolve, reject) => {
      const host = options.hostname ?? "127.0.0.1";
      let socket: net.Socket;
      const ready = () => {
        socket.off("error", reject);
        const conn = attach(settings, socket);
        conn.alpnProtocol = (socket as tls.TLSSocket).alpnProtocol || "";
        resolve(conn);
        conn.opened();
      };
      if (options.tls) {
        const t: ClientTlsOptions = options.tls === true ? {} : options.tls;
        const servername = t.servername ?? (net.isIP(host) ? undefined : host);
        socket = tls.connect(
          {
            host,
            port: options.port,
            ca: t.ca === undefined ? undefined : (Array.isArray(t.ca) ? t.ca : [t.ca]).map(pem),
            servername,
            ALPNProtocols: alpnList(t.alpn),
            allowHalfOpen: true,
          } as tls.ConnectionOptions,
          ready,
        );
      } else {
        socket = net.connect({ host, port: options.port, allowHalfOpen: true }, ready);
      }
      socket.once("error", reject);
    });
  },
};
