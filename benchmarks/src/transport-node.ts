/**
 * @module
 * Node transports for the load generator: raw libuv TCP handles
 * (`tcp_wrap`, the layer under `node:net`) and, where those bindings are not
 * available, `node:net` with a shared read buffer.
 */
import { connect as netConnect, type Socket } from "node:net";
import { getSystemErrorName } from "node:util";
import type { ConnectOptions, Link, Sink, Transport } from "./transport.ts";

/**
 * Every socket reads into this one buffer: no Buffer per read; the bytes are
 * consumed before the next read.
 */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

interface WriteReq {
  handle: unknown;
  oncomplete: (status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Uint8Array | null;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
  address: string;
  port: number;
}
interface TcpHandle {
  bind(address: string, port: number): number;
  connect(req: ConnectReq, address: string, port: number): number;
  setNoDelay(on: boolean): number;
  useUserBuffer(buf: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  reset?(cb?: () => void): number;
  close(cb?: () => void): void;
  onread: (() => void) | null;
}
interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number };
}
interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
}

const binding = (name: string): unknown => {
  try {
    return (process as unknown as { binding(n: string): unknown }).binding(name);
  } catch {
    return undefined;
  }
};

const errName = (err: number) => {
  try {
    return getSystemErrorName(err);
  } catch {
    return `error ${err}`;
  }
};

/** libuv's end-of-file code. */
const UV_EOF = -4095;
const writeDone = () => {};

type Handle = TcpHandle & { link?: RawLink };

let state: Int32Array;
let kReadBytesOrError = 0;
let WriteWrapClass: new () => WriteReq;

/**
 * One connection on a raw handle. A class with shared callbacks (the handle
 * points back at its link) rather than closures: ten thousand connections
 * keep less for the garbage collector to walk.
 */
class RawLink implements Link {
  closed = false;
  constructor(
    readonly h: Handle,
    readonly sink: Sink,
    readonly host: string,
    readonly port: number,
  ) {}

  write(data: Uint8Array): void {
    if (this.closed) return;
    const req = new WriteWrapClass();
    req.handle = this.h;
    req.oncomplete = writeDone;
    req.async = false;
    req.bytes = 0;
    req.buffer = data; // keeps the bytes alive if the write goes asynchronous
    const err = this.h.writeBuffer(req, data);
    if (err !== 0) this.fail("write", err);
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.h.reset) this.h.reset();
    else this.h.close();
  }

  fail(syscall: string, err: number): void {
    if (this.closed) return;
    this.closed = true;
    this.h.close();
    const code = errName(err);
    this.sink.onClose(`${syscall} ${code} ${this.host}:${this.port}`, code);
  }
}

/** The handle's read callback (`this` is the handle): the byte count is in the shared stream state. */
function onRead(this: Handle): void {
  const link = this.link!;
  const n = state[kReadBytesOrError]!;
  if (n > 0) link.sink.onBytes(readBuffer, n);
  else if (n < 0) {
    if (n !== UV_EOF) {
      link.fail("read", n);
      return;
    }
    if (link.closed) return;
    link.closed = true;
    this.close();
    link.sink.onClose();
  }
}

/** The connect request's callback: (status, handle, request, readable, writable). */
function onConnect(status: number, h: Handle): void {
  const link = h.link!;
  if (link.closed) return;
  if (status < 0) {
    link.fail("connect", status);
    return;
  }
  h.useUserBuffer(readBuffer);
  const e = h.readStart();
  if (e !== 0) link.fail("read", e);
  else link.sink.onConnect();
}

/** Raw `tcp_wrap` handles, or undefined when this runtime does not have them (Deno, Bun, a future Node). */
export function transportTcpWrap(): Transport | undefined {
  if (process.versions.bun || (globalThis as { Deno?: unknown }).Deno) return undefined;
  const tcp = binding("tcp_wrap") as TcpWrapBinding | undefined;
  const sw = binding("stream_wrap") as StreamWrapBinding | undefined;
  if (!tcp?.TCP || !tcp.TCPConnectWrap || !sw?.WriteWrap || !sw.streamBaseState) return undefined;
  const { TCP, TCPConnectWrap } = tcp;
  state = sw.streamBaseState;
  kReadBytesOrError = sw.kReadBytesOrError;
  WriteWrapClass = sw.WriteWrap;
  const SOCKET = tcp.constants.SOCKET;
  return {
    name: "node:tcp_wrap",
    connect(o: ConnectOptions, sink: Sink): Link {
      const h: Handle = new TCP(SOCKET);
      const link = new RawLink(h, sink, o.host, o.port);
      h.link = link;
      h.onread = onRead;
      let err = o.localAddress ? h.bind(o.localAddress, o.localPort ?? 0) : 0;
      if (err !== 0) {
        queueMicrotask(() => link.fail("bind", err));
        return link;
      }
      if (o.noDelay) h.setNoDelay(true);
      const req = new TCPConnectWrap();
      req.oncomplete = onConnect as (status: number) => void;
      req.address = o.host;
      req.port = o.port;
      err = h.connect(req, o.host, o.port);
      if (err !== 0) queueMicrotask(() => link.fail("connect", err));
      return link;
    },
  };
}

/** `node:net` sockets reading into the shared buffer (`onread`), written with `socket.write`. */
export function transportNet(): Transport {
  return {
    name: "node:net",
    connect(o: ConnectOptions, sink: Sink): Link {
      let closed = false;
      const socket: Socket = netConnect({
        host: o.host,
        port: o.port,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        ...(o.localPort ? { localPort: o.localPort } : {}),
        noDelay: o.noDelay,
        onread: {
          buffer: readBuffer,
          callback: (n: number, buf: Uint8Array) => {
            sink.onBytes(buf, n);
            return true;
          },
        },
      });
      socket.on("connect", () => sink.onConnect());
      socket.on("error", (e: NodeJS.ErrnoException) => {
        if (closed) return;
        closed = true;
        socket.destroy();
        sink.onClose(e.message, e.code);
      });
      socket.on("close", () => {
        if (closed) return;
        closed = true;
        sink.onClose();
      });
      return {
        write(data) {
          if (!closed) socket.write(data);
        },
        reset() {
          if (closed) return;
          closed = true;
          socket.resetAndDestroy();
        },
      };
    },
  };
}
