/**
 * Bun adapter: `Bun.listen` / `Bun.connect` (uSockets underneath), not the
 * node:net emulation.
 *
 * `socket.write()` in Bun writes what the kernel takes and returns the count;
 * it does not buffer the rest. So this adapter keeps its own queue: a tick's
 * chunks are joined and written once; what the kernel did not take waits in
 * `backlog` and goes out on the `drain` callback.
 */
import { BaseConnection, type Settings, settingsFrom } from "../connection-base.ts";
import { TransportError } from "../errors.ts";
import { ListenerCore } from "../listener-core.ts";
import type { Adapter, ClientTlsOptions, Connection, ConnectOptions, Handlers, ListenOptions } from "../types.ts";

// The few Bun APIs used here (no dependency on bun-types).
interface BunSocket {
  data: BunConnection<unknown> | undefined;
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(): void;
  terminate(): void;
  shutdown(halfClose?: boolean): void;
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly alpnProtocol: string | false | null;
  getServername?(): string | undefined;
}
interface BunSocketHandlers {
  open?(s: BunSocket): void;
  handshake?(s: BunSocket, success: boolean, authorizationError: Error | null): void;
  data?(s: BunSocket, data: Uint8Array): void;
  drain?(s: BunSocket): void;
  end?(s: BunSocket): void;
  close?(s: BunSocket, error?: Error): void;
  error?(s: BunSocket, error: Error): void;
  connectError?(s: BunSocket, error: Error): void;
}
interface BunTls {
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  ca?: string | Uint8Array | (string | Uint8Array)[];
  serverName?: string;
  ALPNProtocols?: string;
  rejectUnauthorized?: boolean;
}
interface BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActive?: boolean): void;
}
interface BunGlobal {
  listen(o: {
    hostname: string;
    port: number;
    tls?: BunTls;
    reusePort?: boolean;
    backlog?: number;
    socket: BunSocketHandlers;
  }): BunListener;
  connect(o: { hostname: string; port: number; tls?: BunTls | boolean; socket: BunSocketHandlers }): Promise<BunSocket>;
}

function bun(): BunGlobal {
  const b = (globalThis as { Bun?: BunGlobal }).Bun;
  if (b === undefined) throw new TransportError("ERR_ADAPTER_UNAVAILABLE", "the bun adapter needs the Bun runtime");
  return b;
}

/** ALPN protocol list in TLS wire format (length-prefixed names), which Bun's TLS options take. */
function alpnWire(list: string[] | undefined): string {
  let s = "";
  for (const p of list ?? ["http/1.1"]) s += String.fromCharCode(p.length) + p;
  return s;
}

/** Writes of several chunks up to this size are joined here (see `flush`). */
const SCRATCH_BYTES = 64 * 1024;
let scratchBuffer: Uint8Array | null = null; // made on first use (the module loads on every runtime)

/** The chunks as one new buffer. */
function join(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (let i = 0; i < chunks.length; i++) {
    out.set(chunks[i]!, o);
    o += chunks[i]!.byteLength;
  }
  return out;
}

class BunConnection<S> extends BaseConnection<S> {
  socket: BunSocket;
  /**
   * What the kernel did not take yet, oldest first (Bun keeps none itself):
   * one chunk per tick, the first possibly partly written. null (from the
   * prototype, like `backlogBytes`' 0) until the first partial write, so
   * idle connections carry neither field.
   */
  declare backlog: Uint8Array[] | null;
  declare backlogBytes: number;

  constructor(settings: Settings<S>, socket: BunSocket, accepted: boolean) {
    super(settings);
    this.socket = socket;
    socket.data = this as BunConnection<unknown>;
    // Bun.listen turns Nagle off on every accepted socket itself (one setsockopt per accept,
    // seen with strace): asking again cost a system call and a native call per connection.
    if (accepted ? !settings.noDelay : settings.noDelay) socket.setNoDelay(settings.noDelay);
  }

  /**
   * The peer's address, asked of Bun on first read (Bun makes and keeps a
   * string per socket once asked): idle connections whose address nobody
   * reads do not carry it. Like the node adapter's handle path, a connection
   * whose address was first read after it closed reports "" and 0 (Bun
   * forgets the address at close). undefined from the prototype until read.
   */
  declare private peerAddress: string | undefined;
  declare private peerPort: number;
  private peer(): string {
    let a = this.peerAddress;
    if (a === undefined) {
      const s = this.socket;
      a = s.remoteAddress ?? "";
      this.peerAddress = a;
      this.peerPort = s.remotePort ?? 0;
    }
    return a;
  }
  // @ts-expect-error an accessor over BaseConnection's (prototype-defaulted) field
  override get remoteAddress(): string {
    return this.peer();
  }
  override set remoteAddress(_v: string) {}
  // @ts-expect-error an accessor over BaseConnection's (prototype-defaulted) field
  override get remotePort(): number {
    this.peer();
    return this.peerPort;
  }
  override set remotePort(_v: number) {}

  runtimeBuffered(): number {
    return this.backlogBytes;
  }

  flush(): void {
    const q = this.queue;
    // Drop the emptied queue: most connections go quiet after a write (a handshake's
    // answer, a reply), and an idle one need not keep an array; the next write makes one.
    this.queue = null;
    if (q !== null && q.length > 0) {
      const total = this.queued;
      this.queued = 0;
      if (this.backlogBytes > 0) {
        // Still waiting for the kernel: keep order, send on drain.
        this.backlog!.push(q.length === 1 ? q[0]! : join(q, total));
        this.backlogBytes += total;
      } else if (q.length === 1) {
        const data = q[0]!;
        const n = this.socket.write(data);
        // n < 0: the socket is closed and close() follows.
        if (n < total && n >= 0) this.keep(n === 0 ? data : data.subarray(n), total - n);
      } else if (total <= SCRATCH_BYTES) {
        // Several chunks (a response head and its body, a tick's frames): joined in one shared
        // buffer, since Bun's write copies what the kernel takes and keeps nothing. Only what
        // the kernel did not take is copied out. A fresh joined buffer per write (4 KiB static
        // responses) was 8-10% of the server's CPU: allocation and collection, not the copy.
        const scratch = (scratchBuffer ??= new Uint8Array(SCRATCH_BYTES));
        let o = 0;
        for (let i = 0; i < q.length; i++) {
          const c = q[i]!;
          scratch.set(c, o);
          o += c.byteLength;
        }
        const n = this.socket.write(scratch, 0, total);
        if (n < total && n >= 0) this.keep(scratch.slice(n, total), total - n);
      } else {
        const data = join(q, total);
        const n = this.socket.write(data);
        if (n < total && n >= 0) this.keep(n === 0 ? data : data.subarray(n), total - n);
      }
    }
    if (this.backlogBytes === 0) {
      if (this.ending) this.socket.end();
      else if (this.wantDrain) this.maybeDrain();
    }
  }

  /** The first chunk the kernel did not (wholly) take: it waits for Bun's drain. */
  private keep(rest: Uint8Array, bytes: number): void {
    (this.backlog ??= []).push(rest);
    this.backlogBytes += bytes;
  }

  /** Bun's drain callback: the kernel can take more. */
  drained(): void {
    const b = this.backlog ?? [];
    let i = 0;
    while (i < b.length) {
      const chunk = b[i]!;
      const n = this.socket.write(chunk);
      if (n < 0) break;
      this.backlogBytes -= n;
      if (n < chunk.byteLength) {
        b[i] = chunk.subarray(n);
        break;
      }
      i++;
    }
    if (i > 0) b.splice(0, i);
    if (this.backlogBytes > 0) return;
    if (this.ending && this.queued === 0) {
      this.socket.end();
      return;
    }
    this.maybeDrain();
  }

  abort(): void {
    if (this.backlog !== null) {
      this.backlog = null;
      this.backlogBytes = 0;
    }
    this.socket.terminate();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

Object.assign(BunConnection.prototype, { backlog: null, backlogBytes: 0, peerAddress: undefined, peerPort: 0 });

function makeHandlers<S>(
  settings: Settings<S>,
  tls: boolean,
  rejectUnauthorized: boolean,
  admit: ((c: BunConnection<S>) => boolean) | null,
  onOpen: ((c: BunConnection<S>) => void) | null,
): BunSocketHandlers {
  const ready = (s: BunSocket) => {
    const c = new BunConnection(settings, s, admit !== null);
    if (admit !== null && !admit(c)) {
      c.closed = true;
      s.terminate();
      return;
    }
    if (tls) {
      // Only TLS connections get their own fields (the "" defaults live on the prototype).
      c.alpnProtocol = s.alpnProtocol || "";
      c.servername = s.getServername?.() ?? "";
    }
    onOpen?.(c);
    c.opened();
  };
  return {
    open: tls ? undefined : ready,
    handshake: tls
      ? (s, success, authorizationError) => {
          if (!success && rejectUnauthorized) {
            // Not opened: the promise of connect() rejects through `close`.
            (s as { handshakeError?: Error }).handshakeError = new TransportError(
              "ERR_TLS_HANDSHAKE",
              `TLS handshake failed: ${authorizationError?.message ?? "unknown error"}`,
            );
            s.terminate();
            return;
          }
          ready(s);
        }
      : undefined,
    data(s, bytes) {
      s.data?.received(bytes);
    },
    drain(s) {
      s.data?.drained();
    },
    end(s) {
      // The peer sent FIN: finish our side after what is queued.
      s.data?.end();
    },
    error(s, err) {
      const c = s.data;
      if (c !== undefined && c.error === undefined) c.error = err;
    },
    close(s, err) {
      s.data?.gone(err ?? undefined);
    },
  };
}

class BunListenerImpl<S> extends ListenerCore<S> {
  readonly adapter = "bun" as const;
  listener!: BunListener;

  protected stopAccepting(): void {
    this.listener.stop(false);
  }

  start(options: ListenOptions): void {
    const t = options.tls;
    if (t?.sni !== undefined && Object.keys(t.sni).length > 0) {
      throw new TransportError(
        "ERR_TLS_SNI_UNSUPPORTED",
        "Bun.listen takes one TLS certificate (only Bun.serve accepts a list chosen by serverName; Bun's node:tls uses a private hook), so several certificates chosen by SNI are not supported on the bun adapter: use adapter: 'node', which runs on Bun through node:tls and supports SNI",
      );
    }
    const handlers = makeHandlers(this.settings, t !== undefined, false, (c) => this.admit(c), null);
    try {
      this.listener = bun().listen({
        hostname: options.hostname ?? "0.0.0.0",
        port: options.port ?? 0,
        tls: t === undefined ? undefined : { cert: t.cert, key: t.key, ALPNProtocols: alpnWire(t.alpn) },
        reusePort: options.reusePort ?? false,
        backlog: options.backlog,
        socket: handlers,
      });
    } catch (e) {
      throw e instanceof Error ? e : new Error(String(e));
    }
    this.port = this.listener.port;
    this.address = this.listener.hostname;
  }
}

export const bunAdapter: Adapter = {
  name: "bun",
  async listen<S>(options: ListenOptions, handlers: Handlers<S>) {
    const l = new BunListenerImpl<S>(options, handlers);
    l.start(options);
    return l;
  },
  connect<S>(options: ConnectOptions, handlers: Handlers<S>): Promise<Connection<S>> {
    const settings = settingsFrom(options, handlers, options.wheel ?? null, null);
    const host = options.hostname ?? "127.0.0.1";
    const isTls = options.tls !== undefined;
    const t: ClientTlsOptions = options.tls === true || options.tls === undefined ? {} : options.tls;
    return new Promise((resolve, reject) => {
      let done = false;
      const h = makeHandlers(settings, isTls, true, null, (c) => {
        done = true;
        resolve(c);
      });
      const userClose = h.close!;
      h.close = (s, err) => {
        if (!done) {
          done = true;
          reject((s as { handshakeError?: Error }).handshakeError ?? err ?? new Error("connection closed before open"));
        }
        userClose(s, err);
      };
      h.connectError = (_s, err) => {
        if (!done) {
          done = true;
          reject(err);
        }
      };
      bun()
        .connect({
          hostname: host,
          port: options.port,
          tls: isTls
            ? {
                ca: t.ca,
                serverName: t.servername ?? host,
                ALPNProtocols: alpnWire(t.alpn),
                rejectUnauthorized: true,
              }
            : undefined,
          socket: h,
        })
        .catch((err: Error) => {
          if (!done) {
            done = true;
            reject(err);
          }
        });
    });
  },
};
