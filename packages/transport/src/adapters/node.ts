/**
 * Node adapter: `node:net` and `node:tls`.
 *
 * Plain TCP listeners on Node take accepted sockets at the libuv-handle level
 * (no `net.Socket` per connection): the listening handle's `onconnection`
 * gives the TCP handle, which reads into one shared 64 KiB buffer
 * (`useUserBuffer`, the mechanism behind node:net's `onread` option) and is
 * written with the handle's own `writeBuffer`/`writev`/`shutdown` (the calls
 * node:net makes itself). A net.Socket with its two stream states, event
 * lists and a fresh 64 KiB buffer per read costs about 4 KB of memory per idle
 * connection; a handle costs a few hundred bytes. Bytes passed to `data` are
 * then a view of the shared buffer, valid until `data` returns (the ownership
 * rule in types.ts); a chunk of it written back is copied before it reaches
 * the kernel, since a partial write would leave libuv holding the shared memory.
 *
 * TLS listeners, outbound connections, and runtimes that only emulate node:net
 * (Deno, Bun) use `net.Socket`: the tick's chunks are joined (or, when large,
 * corked and written together so libuv issues one writev) and handed to the
 * socket once per tick. `WIREHOUSE_NODE_SOCKETS=stream` forces that path for
 * plain listeners too (for comparisons).
 */
import * as net from "node:net";
import * as tls from "node:tls";
import * as util from "node:util";
import { ADAPTER_BITS, BaseConnection, type Settings, settingsFrom } from "../connection-base.ts";
import { TransportError } from "../errors.ts";
import { ListenerCore } from "../listener-core.ts";
import type { Adapter, ClientTlsOptions, Connection, ConnectOptions, Handlers, ListenOptions } from "../types.ts";
import { WriteSlab } from "./write-slab.ts";

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

// ---- handle-level path (plain TCP listeners on Node) ------------------------------------

/** The parts of node's internal TCP handle (TCPWrap, a StreamBase) used here. */
interface TcpHandle {
  onread: (this: TcpHandle, ab: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: readonly Uint8Array[], allBuffers: boolean): number;
  shutdown(req: ShutdownReq): number;
  close(cb: (this: TcpHandle) => void): void;
  setNoDelay(on: boolean): number;
  getpeername(out: { address: string; port: number; family: string }): number;
  readonly writeQueueSize: number;
  [kConn]?: HandleConnection<unknown>;
}
interface WriteReq {
  handle: TcpHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  buffer: Uint8Array | readonly Uint8Array[];
}
interface ShutdownReq {
  handle: TcpHandle;
  oncomplete: (this: ShutdownReq, status: number) => void;
}
interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}
type ServerHandle = {
  onconnection: (err: number, handle: TcpHandle | undefined) => void;
  setNoDelay?: (on: boolean) => number;
};

/**
 * On Linux a socket returned by accept() inherits TCP_NODELAY from the listening socket (it is a
 * clone of the listener's; checked here with getsockopt on an accepted socket), so one setsockopt
 * on the listener replaces one per accepted connection (strace: one call for 100 connections).
 * Elsewhere each accepted socket still gets its own call.
 */
const NODELAY_INHERITED = typeof process !== "undefined" && process.platform === "linux";

/** getpeername()'s output, reused. */
const scratchPeer = { address: "", port: 0, family: "" };

/** libuv's UV_EOF. */
const UV_EOF = -4095;

/** Node's stream_wrap binding when this is Node itself (not a runtime emulating node:net), else null. */
const binding: StreamWrapBinding | null = (() => {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined || g.Deno !== undefined) return null;
  if (typeof process === "undefined" || process.release?.name !== "node") return null;
  if (process.env.WIREHOUSE_NODE_SOCKETS === "stream") return null;
  try {
    const b = (process as unknown as { binding(name: string): StreamWrapBinding }).binding("stream_wrap");
    if (typeof b.WriteWrap !== "function" || typeof b.ShutdownWrap !== "function") return null;
    if (!(b.streamBaseState instanceof Int32Array)) return null;
    return b;
  } catch {
    return null;
  }
})();

/** Node's stream state (bytes read or error, last write asynchronous?), read on every read and write. */
const streamState: Int32Array = binding?.streamBaseState ?? new Int32Array(0);
const kReadBytes = binding?.kReadBytesOrError ?? 0;
const kWriteAsync = binding?.kLastWriteWasAsync ?? 0;

/** A write request object not bound to a pending native write (see flush). */
let spareReq: WriteReq | null = null;
const EMPTY = new Uint8Array(0);

/**
 * Small writes, every tick's joined chunks up to JOIN_LIMIT, and buffers from `allocate` live in
 * this slab while they are written (see write-slab.ts). Made with the first plain TCP listener.
 */
const SLAB_SIZE = 64 * 1024;
let slab: WriteSlab | null = null;
/** A single chunk at most this long is copied into the slab (V8 keeps typed arrays up to 64 B on its heap). */
const COPY_MAX = 64;
/** `allocate` hands out slab memory up to this many bytes (larger buffers are their own allocation anyway). */
const ALLOCATE_MAX = 4096;

/** Gives back the slab regions among a write's bytes (one buffer or chunks): written, copied elsewhere, or dropped. */
function release(held: Uint8Array | readonly Uint8Array[]): void {
  if (held instanceof Uint8Array) slab!.release(held);
  else for (let i = 0; i < held.length; i++) slab!.release(held[i]!);
}

/** Every handle reads into this buffer; `data` gets a view of it, valid until it returns. */
let readBuffer: Uint8Array | null = null;
/** `readBuffer.buffer`, kept (see WriteSlab.buffer). */
let readArrayBuffer: ArrayBufferLike | null = null;
const READ_BUFFER_SIZE = 64 * 1024;
/**
 * Views of `readBuffer` at offset 0 by length, made once: a view costs about as much as the rest
 * of the adapter's work on a small read. Consumers get the same object for reads of the same
 * length, which the ownership rule (valid until `data` returns) already allows.
 */
const readViews: (Uint8Array | undefined)[] = [];
const READ_VIEW_CACHE_MAX = 1024;

const errorNames = new Map<number, string>();

/**
 * A system error like node:net's (`read ECONNRESET`, with `code`, `errno`, `syscall`), without a
 * stack trace: a peer resetting thousands of connections should not cost a captured stack each.
 */
function uvError(syscall: string, status: number): Error {
  let name = errorNames.get(status);
  if (name === undefined) {
    try {
      name = util.getSystemErrorName(status);
    } catch {
      name = `E${-status}`;
    }
    errorNames.set(status, name);
  }
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const error = new Error(`${syscall} ${name}`);
  Error.stackTraceLimit = limit;
  return Object.assign(error, { code: name, errno: status, syscall });
}

// Flag bits of a handle connection (in BaseConnection's `bits`).
const H_READING = ADAPTER_BITS;
const H_PAUSED = ADAPTER_BITS << 1;
const H_EOF = ADAPTER_BITS << 2; // the peer sent FIN
const H_SHUTDOWN = ADAPTER_BITS << 3; // our FIN was requested
const H_SHUTDOWN_DONE = ADAPTER_BITS << 4;
const H_CLOSING = ADAPTER_BITS << 5; // handle.close() was called

class HandleConnection<S> extends BaseConnection<S> {
  readonly handle: TcpHandle;
  /** Write requests libuv has not completed yet. */
  private writing = 0;

  constructor(settings: Settings<S>, handle: TcpHandle) {
    super(settings);
    this.handle = handle;
    handle[kConn] = this as HandleConnection<unknown>;
  }

  runtimeBuffered(): number {
    return this.writing === 0 ? 0 : this.handle.writeQueueSize;
  }

  /** The peer's address, asked of the kernel on first use (most idle connections never need it). */
  declare private peer: { address: string; port: number } | null;
  private getPeer(): { address: string; port: number } {
    let p = this.peer;
    if (p === null) {
      p = { address: "", port: 0 };
      if ((this.bits & H_CLOSING) === 0 && this.handle.getpeername(scratchPeer) === 0) {
        p.address = scratchPeer.address;
        p.port = scratchPeer.port;
      }
      this.peer = p;
    }
    return p;
  }
  // @ts-expect-error an accessor over BaseConnection's (prototype-defaulted) field
  override get remoteAddress(): string {
    return this.getPeer().address;
  }
  override set remoteAddress(_v: string) {}
  // @ts-expect-error an accessor over BaseConnection's (prototype-defaulted) field
  override get remotePort(): number {
    return this.getPeer().port;
  }
  override set remotePort(_v: number) {}

  override allocate(n: number): Uint8Array {
    return n <= ALLOCATE_MAX ? slab!.allocate(n) : new Uint8Array(n);
  }

  override write(data: Uint8Array | readonly Uint8Array[]): boolean {
    // A buffer from allocate() that is queued is the queue's now; one that is dropped (after end()
    // or close) stays unclaimed and the next allocation takes it back.
    if (!this.ending && !this.closed) {
      const s = slab!;
      if (data instanceof Uint8Array) s.claim(data);
      else for (let i = 0; i < data.length; i++) s.claim(data[i]!);
    }
    return super.write(data);
  }

  protected override dropQueue(): void {
    if (this.queue !== null) release(this.queue);
    super.dropQueue();
  }

  flush(): void {
    const f = this.bits;
    if ((f & H_CLOSING) !== 0) return;
    const q = this.queue;
    if (q !== null && q.length > 0) {
      const s = slab!;
      // A request object that completed at once was never bound to a native write: reuse it.
      let req = spareReq;
      if (req === null) {
        req = new binding!.WriteWrap();
        req.oncomplete = onWriteDone;
        req.buffer = EMPTY;
      } else spareReq = null;
      req.handle = this.handle;
      // What the request must keep alive while libuv writes from it (set once the write is pending).
      let held: Uint8Array | Uint8Array[];
      /** `held` is one region of the current slab. */
      let inSlab = false;
      let err: number;
      if (q.length > 1 && this.queued > JOIN_LIMIT) {
        const chunks = q.slice();
        for (let i = 0; i < chunks.length; i++)
          if (chunks[i]!.buffer === readArrayBuffer) chunks[i] = chunks[i]!.slice();
        q.length = 0;
        this.queued = 0;
        held = chunks;
        err = this.handle.writev(req, chunks, true);
      } else {
        const total = this.queued;
        let data: Uint8Array;
        if (q.length === 1) {
          data = q.pop()!;
          // A small chunk (on V8's heap), or a view of the shared read buffer (an echo): copy into
          // the slab, unless it is there already (from allocate()). One `buffer` read (see WriteSlab.buffer).
          const b = data.buffer;
          if (b === s.buffer) inSlab = true;
          else if (total <= COPY_MAX || b === readArrayBuffer) {
            const v = s.take(total);
            v.set(data);
            data = v;
            inSlab = true;
          }
        } else {
          // The tick's chunks joined straight into the slab.
          data = s.take(total);
          inSlab = true;
          for (let i = 0, o = 0; i < q.length; i++) {
            const c = q[i]!;
            data.set(c, o);
            o += c.byteLength;
          }
          release(q);
          q.length = 0;
        }
        this.queued = 0;
        held = data;
        err = this.handle.writeBuffer(req, data);
      }
      if (err !== 0) {
        if (inSlab) s.releaseOwned();
        else release(held);
        this.destroy(uvError("write", err));
        return;
      }
      if (streamState[kWriteAsync] !== 0) {
        // libuv still points into the bytes: the request keeps them (and their slab regions) until it completes.
        this.writing++;
        req.buffer = held;
      } else {
        spareReq = req; // its buffer is still EMPTY
        if (inSlab) s.releaseOwned();
        else release(held);
        // Written at once: the drain owed is due now (after this call, as with net.Socket's write callback).
        if (this.wantDrain) queueMicrotask(() => this.maybeDrain());
      }
    }
    if (this.ending && (f & H_SHUTDOWN) === 0) {
      this.bits |= H_SHUTDOWN;
      // libuv sends FIN after the writes queued before it.
      const req = new binding!.ShutdownWrap();
      req.handle = this.handle;
      req.oncomplete = onShutdownDone;
      const err = this.handle.shutdown(req);
      if (err !== 0) this.close();
    }
  }

  /** A write request completed asynchronously. */
  writeDone(status: number): void {
    this.writing--;
    // Writes cancelled by our own close are not an error of the connection.
    if ((this.bits & H_CLOSING) !== 0) return;
    if (status < 0) {
      this.destroy(uvError("write", status));
      return;
    }
    this.maybeDrain();
  }

  shutdownDone(status: number): void {
    this.bits |= H_SHUTDOWN_DONE;
    // Half-open like node:net with allowHalfOpen: close once the peer has ended too.
    if (status < 0 || (this.bits & H_EOF) !== 0) this.close();
  }

  /** Bytes (n > 0), the peer's FIN (UV_EOF) or a read error. */
  read(n: number): void {
    if (n > 0) {
      this.received(
        n <= READ_VIEW_CACHE_MAX
          ? (readViews[n] ??= new Uint8Array(readArrayBuffer!, 0, n))
          : new Uint8Array(readArrayBuffer!, 0, n),
      );
      return;
    }
    if (n === 0) return;
    if (n === UV_EOF) {
      this.bits = (this.bits | H_EOF) & ~H_READING;
      if ((this.bits & H_SHUTDOWN_DONE) !== 0) this.close();
      // Writes queued in this tick still go out: FIN after them.
      else this.end();
      return;
    }
    if (this.error === undefined) this.error = uvError("read", n);
    this.close();
  }

  /** `noDelaySet`: the socket already has TCP_NODELAY (inherited from the listening socket). */
  start(noDelaySet: boolean): void {
    const h = this.handle;
    if (this.settings.noDelay && !noDelaySet) h.setNoDelay(true);
    h.onread = onHandleRead;
    h.useUserBuffer(readBuffer!);
    this.resume();
  }

  private close(): void {
    if ((this.bits & H_CLOSING) !== 0) return;
    this.bits |= H_CLOSING;
    this.handle.close(onHandleClosed);
  }

  abort(): void {
    this.close();
  }

  pause(): void {
    const f = this.bits;
    if ((f & H_PAUSED) !== 0) return;
    this.bits = f | H_PAUSED;
    if ((f & H_READING) !== 0 && (f & H_CLOSING) === 0) {
      this.bits &= ~H_READING;
      this.handle.readStop();
    }
  }

  resume(): void {
    const f = this.bits & ~H_PAUSED;
    this.bits = f;
    if ((f & (H_READING | H_EOF | H_CLOSING)) !== 0) return;
    this.bits = f | H_READING;
    const err = this.handle.readStart();
    if (err !== 0) {
      if (this.error === undefined) this.error = uvError("read", err);
      this.close();
    }
  }
}

(HandleConnection.prototype as unknown as { peer: null }).peer = null;

function onHandleRead(this: TcpHandle): void {
  this[kConn]!.read(streamState[kReadBytes]!);
}
function onWriteDone(this: WriteReq, status: number): void {
  release(this.buffer);
  this.handle[kConn]!.writeDone(status);
}
function onShutdownDone(this: ShutdownReq, status: number): void {
  this.handle[kConn]!.shutdownDone(status);
}
function noop(): void {}
function onHandleClosed(this: TcpHandle): void {
  const c = this[kConn]!;
  c.gone();
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
    // Plain TCP on Node: take accepted connections at the handle level (see the top of this file).
    const listening = (server as unknown as { _handle?: ServerHandle | null })._handle;
    if (t === undefined && binding !== null && listening != null && typeof listening.onconnection === "function") {
      readBuffer ??= new Uint8Array(READ_BUFFER_SIZE);
      readArrayBuffer = readBuffer.buffer;
      slab ??= new WriteSlab(SLAB_SIZE);
      const inherited =
        settings.noDelay && NODELAY_INHERITED && typeof listening.setNoDelay === "function"
          ? listening.setNoDelay(true) === 0
          : false;
      listening.onconnection = (err, handle) => {
        if (err !== 0 || handle === undefined) return;
        const conn = new HandleConnection(settings, handle);
        if (!this.admit(conn)) {
          conn.closed = true;
          handle.close(noop);
          return;
        }
        conn.start(inherited);
        conn.opened();
      };
    }
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
