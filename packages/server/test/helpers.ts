/**
 * Test helpers: raw TCP clients (node:net, present on all three runtimes) and a
 * uniform wrapper over the three WebSocket clients (ours, `ws`, the runtime's built-in).
 */
import net from "node:net";
import WS from "ws";
import { connect, createServer, type Server, type ServerOptions } from "../src/index.ts";

export const isNode =
  typeof (globalThis as { Deno?: unknown }).Deno === "undefined" &&
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined";

/** Sends `bytes` and collects everything until the server closes (or `until` says enough). */
export function rawExchange(
  port: number,
  bytes: Uint8Array | string,
  until?: (received: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).toString("latin1"));
      s.destroy();
    };
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      if (until?.(Buffer.concat(chunks).toString("latin1"))) finish();
    });
    s.on("end", finish);
    s.on("close", finish);
    s.on("error", (e) => (done ? undefined : reject(e)));
  });
}

/** An open raw socket with a byte collector. */
export function rawSocket(port: number): Promise<{
  socket: net.Socket;
  received: () => Buffer;
  ended: Promise<Buffer>;
  waitFor: (pred: (b: Buffer) => boolean) => Promise<Buffer>;
}> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const waiters: { pred: (b: Buffer) => boolean; resolve: (b: Buffer) => void }[] = [];
    let endResolve: (b: Buffer) => void;
    const ended = new Promise<Buffer>((r) => (endResolve = r));
    const s = net.connect(port, "127.0.0.1", () =>
      resolve({
        socket: s,
        received: () => Buffer.concat(chunks),
        ended,
        waitFor: (pred) => {
          const b = Buffer.concat(chunks);
          if (pred(b)) return Promise.resolve(b);
          return new Promise((r) => waiters.push({ pred, resolve: r }));
        },
      }),
    );
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      const b = Buffer.concat(chunks);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w?.pred(b)) {
          waiters.splice(i, 1);
          w.resolve(b);
        }
      }
    });
    s.on("close", () => endResolve(Buffer.concat(chunks)));
    s.on("error", reject);
  });
}

export const UPGRADE = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

export interface Msg {
  data: string | Uint8Array;
  binary: boolean;
}

/** One interface over the three clients, for the matrix tests. */
export interface TestClient {
  name: string;
  send(data: string | Uint8Array): void;
  next(): Promise<Msg>;
  close(code?: number, reason?: string): void;
  closed: Promise<{ code: number; reason: string }>;
  extensions(): string;
  /** Whether this client offers permessage-deflate (Deno's built-in WebSocket does not). */
  offersDeflate: boolean;
  /** Sends a ping, resolves with the pong's payload (the built-in WebSocket has no ping API). */
  ping?: (data: string) => Promise<string>;
  /** Sends `bytes` as a text frame without checking them (the built-in WebSocket cannot). */
  sendRawText?: (bytes: Uint8Array) => void;
  /** Drops the TCP connection without a close frame (the built-in WebSocket cannot). */
  terminate?: () => void;
  /** Whether `send` fragments messages larger than the factory's `fragment` size. */
  fragments: boolean;
}

class Queue {
  private items: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  push(m: Msg) {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.items.push(m);
  }
  next(): Promise<Msg> {
    const m = this.items.shift();
    if (m) return Promise.resolve(m);
    return new Promise((r) => this.waiters.push(r));
  }
}

export type ClientFactory = (
  url: string,
  opts?: { deflate?: boolean; protocols?: string[]; fragment?: number },
) => Promise<TestClient>;

export const ourClient: ClientFactory = async (url, opts = {}) => {
  const q = new Queue();
  let closedResolve: (v: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((r) => (closedResolve = r));
  const pongs: ((d: string) => void)[] = [];
  const ws = await connect(url, {
    deflate: opts.deflate ? { threshold: 0 } : false,
    protocols: opts.protocols,
    maxPayload: 64 * 1024 * 1024,
    maxFrameSize: opts.fragment,
    handler: {
      message: (_ws, data, binary) => q.push({ data: binary ? (data as Uint8Array).slice() : data, binary }),
      pong: (_ws, data) => pongs.shift()?.(new TextDecoder().decode(data)),
      close: (_ws, code, reason) => closedResolve({ code, reason }),
    },
  });
  return {
    name: "wirehouse",
    send: (d) => ws.send(d, { binary: typeof d !== "string" }),
    next: () => q.next(),
    close: (c, r) => ws.close(c, r),
    closed,
    extensions: () => ws.extensions,
    offersDeflate: true,
    ping: (d) =>
      new Promise((r) => {
        pongs.push(r);
        ws.ping(d);
      }),
    sendRawText: (bytes) => ws.send(bytes, { binary: false }),
    terminate: () => ws.terminate(),
    fragments: true,
  };
};

export const wsClient: ClientFactory = async (url, opts = {}) => {
  const q = new Queue();
  const ws = new WS(url, opts.protocols ?? [], {
    perMessageDeflate: opts.deflate ? { threshold: 0 } : false,
    maxPayload: 64 * 1024 * 1024,
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on("close", (code, reason) => r({ code, reason: String(reason) })),
  );
  ws.on("message", (d: Buffer, isBinary: boolean) =>
    q.push({ data: isBinary ? new Uint8Array(d) : d.toString(), binary: isBinary }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  ws.on("error", () => {}); // a reset after open shows up as the close code
  const fragment = opts.fragment ?? 0;
  return {
    name: "ws",
    send: (d) => {
      if (fragment === 0 || (typeof d === "string" ? Buffer.byteLength(d) : d.length) <= fragment) {
        ws.send(d);
        return;
      }
      // ws fragments only on request: one send per frame, fin on the last
      const bytes = typeof d === "string" ? Buffer.from(d) : Buffer.from(d.buffer, d.byteOffset, d.length);
      for (let at = 0; at < bytes.length; at += fragment) {
        const fin = at + fragment >= bytes.length;
        ws.send(bytes.subarray(at, at + fragment), { binary: typeof d !== "string", fin });
      }
    },
    next: () => q.next(),
    close: (c, r) => ws.close(c, r),
    closed,
    extensions: () => ws.extensions,
    offersDeflate: true,
    ping: (d) =>
      new Promise((r) => {
        ws.once("pong", (p: Buffer) => r(p.toString()));
        ws.ping(d);
      }),
    sendRawText: (bytes) => ws.send(bytes, { binary: false }),
    terminate: () => ws.terminate(),
    fragments: true,
  };
};

type BuiltinWS = {
  new (
    url: string,
    protocols?: string[],
  ): {
    binaryType: string;
    extensions: string;
    onmessage: ((e: { data: unknown }) => void) | null;
    onclose: ((e: { code: number; reason: string }) => void) | null;
    onopen: (() => void) | null;
    onerror: ((e: unknown) => void) | null;
    send(d: string | Uint8Array): void;
    close(c?: number, r?: string): void;
  };
};

export const builtinClient: ClientFactory | null =
  typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function" && !isNode
    ? async (url, opts = {}) => {
        const Ctor = (globalThis as unknown as { WebSocket: BuiltinWS }).WebSocket;
        const q = new Queue();
        const ws = new Ctor(url, opts.protocols ?? []);
        ws.binaryType = "arraybuffer";
        const closed = new Promise<{ code: number; reason: string }>(
          (r) => (ws.onclose = (e) => r({ code: e.code, reason: e.reason })),
        );
        ws.onmessage = (e) =>
          q.push(
            typeof e.data === "string"
              ? { data: e.data, binary: false }
              : { data: new Uint8Array(e.data as ArrayBuffer), binary: true },
          );
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = (e) => reject(e);
        });
        return {
          name: "builtin",
          send: (d) => ws.send(d),
          next: () => q.next(),
          close: (c, r) => ws.close(c, r),
          closed,
          extensions: () => ws.extensions,
          offersDeflate: typeof (globalThis as { Bun?: unknown }).Bun !== "undefined",
          fragments: false,
        };
      }
    : null;

export const clients: [string, ClientFactory][] = [
  ["wirehouse client", ourClient],
  ["ws client", wsClient],
  ...(builtinClient ? ([["built-in WebSocket", builtinClient]] as [string, ClientFactory][]) : []),
];

export function pattern(size: number, seed = 1): Uint8Array {
  const b = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return (
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  );
}

/**
 * Runs `fn` against a fresh server on an ephemeral loopback port, set up by `setup`, and closes it
 * afterwards (waiting at most 1 s for connections a test left open).
 */
export async function withServer(
  setup: (s: Server) => void,
  fn: (port: number, s: Server) => Promise<void>,
  options: ServerOptions = {},
): Promise<void> {
  const server = createServer(options);
  setup(server);
  const { port } = await server.listen({ port: 0 });
  try {
    await fn(port, server);
  } finally {
    await server.close({ deadline: 1000 });
  }
}

/** The bytes of `parts`, one after another, in one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
