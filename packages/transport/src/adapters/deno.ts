/**
 * Deno adapter: `Deno.listen`, `Deno.listenTls`, `Deno.connect`, `Deno.connectTls`.
 *
 * Reads go into one buffer per connection, reused for every read (so bytes
 * handed to `data` are valid only until it returns: see types.ts). The buffer
 * starts at 256 B (a pending read holds it, so idle connections pay for it),
 * doubles up to 64 KiB each time a read fills it and halves after a run of
 * small reads. Writes: a tick's chunks are joined and written with one
 * `conn.write`; while a write is in flight later ticks queue behind it.
 * A read is held back while a fan-out's writes are still pending in the
 * runtime (see FAN_OUT_WRITES).
 * TLS: several certificates chosen by SNI through Deno's certificate resolver.
 */
import { ADAPTER_BITS, BaseConnection, type Settings, settingsFrom } from "../connection-base.ts";
import { TransportError } from "../errors.ts";
import { ListenerCore } from "../listener-core.ts";
import type { Adapter, ClientTlsOptions, Connection, ConnectOptions, Handlers, ListenOptions } from "../types.ts";

/**
 * A pending read holds its buffer, so an idle connection costs its buffer:
 * start small (a bare WebSocket handshake fits; a browser's, with its cookies
 * and extensions, takes a read or two more while it grows), double while
 * reads fill it, up to MAX_READ; halve after SHRINK_AFTER reads in a row that
 * used under an eighth of it.
 */
const FIRST_READ = 256;
const MAX_READ = 64 * 1024;
const SHRINK_AFTER = 16;
/** Microtasks the read loop gives an in-flight write to settle (see readLoop). */
const WRITE_SETTLE_TICKS = 4;

/**
 * Fan-out fairness. Deno settles at most 128 socket operations per event-loop turn (tokio's
 * cooperative budget, shared by every socket's reads and writes; measured: 1,000 `conn.write`
 * calls issued in one tick settle 128 per turn over 9 turns). A write past the budget waits for
 * a later turn, while the publisher's next read, the first op polled in the next turn, completes
 * at once. So one client publishing to 1,000 subscribers read, and published, about once a turn
 * while each publish needed 8 turns of writes: the writes to the other subscribers queued up
 * behind the publisher's own copy, with nothing to slow the publisher (which paces itself on that
 * copy), and the fan-out latency grew to seconds (broadcast-1k p99 0.5-3.7 s; 30 MB queued).
 * So bytes read are held while more than FAN_OUT_WRITES writes of all connections are pending,
 * until every one of them has settled (a publish's writes all settle first, as Node's and Bun's
 * synchronous writes do; releasing at 128 pending left the rest behind later ones: p99 89 ms
 * against 33 ms releasing at 0, one run each). Fewer pending writes than that (echo on 100
 * connections) never hold a read.
 * Writes to peers that do not read stay pending for good: when no socket operation settles in
 * two checks STALL_MS apart, the writes pending then count as stuck (their own connections'
 * backpressure deals with them) until each settles, and the held reads go on. (A stall is
 * sometimes seen wrongly, at the first publish after 1,000 handshakes: counting the pending
 * writes as stuck until the count fell below them let a backlog of 14 MB and p99 0.9-1.9 s
 * build up; counted per write, such a mistake costs one fan-out.)
 */
const FAN_OUT_WRITES = 128;
const STALL_MS = 5;
/** `conn.write` calls not settled yet, all connections. */
let pendingWrites = 0;
/** Of those, the ones that stopped settling (peers not reading): the ones issued before stall `stalls`. */
let stuckWrites = 0;
/** Stalls seen so far; a write notes the count when issued, so it knows whether it was counted stuck. */
let stalls = 0;
/**
 * Socket operations settled so far, writes and reads (progress seen by the stall check: while
 * many connections' reads complete, they can take a turn's whole budget and leave the writes
 * waiting though none is stuck).
 */
let settledOps = 0;
let settledAtCheck = 0;
/** Stall checks in a row that saw no write settle. */
let stallChecks = 0;
let fanOutWaiters: (() => void)[] = [];
let stallTimer: ReturnType<typeof setTimeout> | null = null;

function fanOutPending(): boolean {
  return pendingWrites - stuckWrites > FAN_OUT_WRITES;
}

function writeSettled(issuedAt: number): void {
  pendingWrites--;
  settledOps++;
  if (issuedAt !== stalls) stuckWrites--; // pending at the last stall, so counted stuck
  if (fanOutWaiters.length > 0 && pendingWrites === stuckWrites) releaseFanOutWaiters();
}

function releaseFanOutWaiters(): void {
  if (stallTimer !== null) {
    clearTimeout(stallTimer);
    stallTimer = null;
  }
  const waiters = fanOutWaiters;
  fanOutWaiters = [];
  for (let i = 0; i < waiters.length; i++) waiters[i]!();
}

function checkStall(): void {
  stallTimer = null;
  // Two checks in a row without progress: a timer can fire in the first turn after a long
  // stretch of JS (a big fan-out), before that turn's writes are settled.
  if (settledOps === settledAtCheck && ++stallChecks >= 2) {
    // Nothing settled for two checks: the pending writes wait on their peers, not on the budget.
    stuckWrites = pendingWrites;
    stalls++;
    releaseFanOutWaiters();
    return;
  }
  if (settledOps !== settledAtCheck) stallChecks = 0;
  settledAtCheck = settledOps;
  stallTimer = setTimeout(checkStall, STALL_MS);
}

/** Resolves once every pending write has settled (or is stuck). */
function fanOutSettled(): Promise<void> {
  return new Promise((resolve) => {
    fanOutWaiters.push(resolve);
    if (stallTimer === null) {
      settledAtCheck = settledOps;
      stallChecks = 0;
      stallTimer = setTimeout(checkStall, STALL_MS);
    }
  });
}

// The few Deno APIs used here (no dependency on Deno's lib types).
interface DenoNetAddr {
  hostname: string;
  port: number;
}
interface DenoConn {
  readonly remoteAddr: DenoNetAddr;
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(on?: boolean): void;
  handshake?(): Promise<{ alpnProtocol: string | null }>;
}
interface DenoListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoConn>;
  close(): void;
}
interface DenoGlobal {
  listen(o: { hostname: string; port: number; reusePort?: boolean; transport?: "tcp" }): DenoListener;
  listenTls(o: {
    hostname: string;
    port: number;
    cert?: string;
    key?: string;
    alpnProtocols?: string[];
    reusePort?: boolean;
    [SNI_RESOLVER]?: (serverName: string) => { cert: string; key: string };
  }): DenoListener;
  connect(o: { hostname: string; port: number }): Promise<DenoConn>;
  connectTls(o: {
    hostname: string;
    port: number;
    caCerts?: string[];
    alpnProtocols?: string[];
    [SERVER_NAME]?: string;
  }): Promise<DenoConn>;
}

/**
 * Deno 2.9's hooks for SNI, the ones its own TLS tests and node:tls layer
 * use (ext/net/02_tls.js; not in the public typings yet): `listenTls` takes
 * a certificate resolver called with the name the client asked for ("" when
 * it sent none) in place of `cert`/`key`, and `connectTls` takes the name to
 * send and verify apart from the hostname it connects to. A Deno without the
 * resolver rejects a `listenTls` without `cert`/`key`, which is how its
 * absence is detected.
 */
const SNI_RESOLVER: unique symbol = Symbol.for("unstableSniResolver");
const SERVER_NAME: unique symbol = Symbol.for("unstableServerName");

/** `"example.com"` matches itself; `"*.example.com"` matches one more label (`a.example.com`). Case-insensitive. */
function matchServername(pattern: string, name: string): boolean {
  pattern = pattern.toLowerCase();
  name = name.toLowerCase();
  if (pattern === name) return true;
  if (!pattern.startsWith("*.")) return false;
  const dot = name.indexOf(".");
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}

function deno(): DenoGlobal {
  const d = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (d === undefined) throw new TransportError("ERR_ADAPTER_UNAVAILABLE", "the deno adapter needs the Deno runtime");
  return d;
}

const decoder = new TextDecoder();
function pem(v: string | Uint8Array): string {
  return typeof v === "string" ? v : decoder.decode(v);
}

const F_LENT = ADAPTER_BITS;
const F_WRITING = ADAPTER_BITS << 1;
const F_READING = ADAPTER_BITS << 2;
const F_PAUSED = ADAPTER_BITS << 3;
const F_READ_EOF = ADAPTER_BITS << 4;
const F_WRITE_CLOSED = ADAPTER_BITS << 5;

class DenoConnection<S> extends BaseConnection<S> {
  readonly conn: DenoConn;
  /** The read buffer: FIRST_READ bytes until reads fill it (a pending read holds it, so idle connections pay for it). */
  private buf: Uint8Array = new Uint8Array(FIRST_READ);
  /** Size of the next read buffer: grows while reads fill it, shrinks back after a run of small reads. */
  private readSize = FIRST_READ;
  /** Read buffers lent to writes in flight; free again once the write loop is idle (null from the prototype). */
  declare private lentBuffers: Uint8Array[] | null;
  /** A free read buffer to switch to, recycled from `lentBuffers` (null from the prototype). */
  declare private spare: Uint8Array | null;
  /** Bytes of the in-flight write not yet taken by the kernel (0 from the prototype). */
  declare private inflight: number;
  /** Bytes read while paused, delivered on resume (0 from the prototype). */
  declare private held: number;
  /** Reads in a row that used less than an eighth of a grown buffer (0 from the prototype). */
  declare private smallReads: number;

  constructor(settings: Settings<S>, conn: DenoConn) {
    super(settings);
    this.conn = conn;
    const addr = conn.remoteAddr; // a getter that builds a new object on each call
    this.remoteAddress = addr.hostname;
    this.remotePort = addr.port;
    if (settings.noDelay) {
      try {
        conn.setNoDelay?.(true);
      } catch {
        // TLS connections before the handshake, or platforms without it.
      }
    }
  }

  private setBit(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }
  /**
   * The read buffer was passed to write() (an echo, a payload forwarded as
   * is): the next read must go elsewhere until the write loop is idle.
   */
  private get lent(): boolean {
    return (this.bits & F_LENT) !== 0;
  }
  private set lent(v: boolean) {
    this.setBit(F_LENT, v);
  }
  private get writing(): boolean {
    return (this.bits & F_WRITING) !== 0;
  }
  private set writing(v: boolean) {
    this.setBit(F_WRITING, v);
  }
  private get reading(): boolean {
    return (this.bits & F_READING) !== 0;
  }
  private set reading(v: boolean) {
    this.setBit(F_READING, v);
  }
  private get paused(): boolean {
    return (this.bits & F_PAUSED) !== 0;
  }
  private set paused(v: boolean) {
    this.setBit(F_PAUSED, v);
  }
  private get readEof(): boolean {
    return (this.bits & F_READ_EOF) !== 0;
  }
  private set readEof(v: boolean) {
    this.setBit(F_READ_EOF, v);
  }
  private get writeClosed(): boolean {
    return (this.bits & F_WRITE_CLOSED) !== 0;
  }
  private set writeClosed(v: boolean) {
    this.setBit(F_WRITE_CLOSED, v);
  }

  runtimeBuffered(): number {
    return this.inflight;
  }

  start(): void {
    this.opened();
    if (!this.closed) void this.readLoop();
  }

  private async readLoop(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (!this.closed && !this.paused) {
        if (this.lent) this.switchBuffer();
        const buf = this.buf;
        const n = await this.conn.read(buf);
        settledOps++;
        if (this.closed) return;
        if (n === null) {
          this.readEof = true;
          this.peerEnded();
          return;
        }
        if (fanOutPending()) {
          // The writes of an earlier fan-out (this connection's or another's) go first: see FAN_OUT_WRITES.
          await fanOutSettled();
          if (this.closed) return;
        }
        if (this.paused) {
          this.held = n;
          return;
        }
        this.received(buf.subarray(0, n));
        // Deno completes a write the kernel can take at once (an eager op) and settles its
        // promise within a few microtasks: let that happen before the next read, which then
        // reuses this buffer instead of switching to the spare. Measured in bench/echo.ts
        // (--together --kinds adapter,...): 4-7% more messages/s and 4-5% less CPU per
        // message. Never waits on the peer (a write it cannot take stays in flight and the
        // read goes ahead), so two peers that both write a lot cannot deadlock.
        for (let i = 0; i < WRITE_SETTLE_TICKS && this.writing; i++) await null;
        const size = this.readSize;
        if (n === buf.byteLength) {
          this.smallReads = 0;
          if (size < MAX_READ) {
            // Reads fill the buffer: read in bigger chunks (fewer system calls).
            this.readSize = size * 2;
            if (!this.lent) this.buf = new Uint8Array(size * 2);
          }
        } else if (size > FIRST_READ && n < size >>> 3 && ++this.smallReads >= SHRINK_AFTER) {
          // A burst is over: give the memory back (a pending read holds its buffer while idle).
          this.smallReads = 0;
          this.readSize = size >>> 1;
          if (!this.lent) this.buf = new Uint8Array(size >>> 1);
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.reading = false;
    }
  }

  override write(data: Uint8Array | readonly Uint8Array[]): boolean {
    // Writing (part of) the read buffer without copying is allowed: note it,
    // and read into another buffer until the write is done.
    const mine = this.buf.buffer;
    if (data instanceof Uint8Array) {
      if (data.buffer === mine) this.lent = true;
    } else {
      for (let i = 0; i < data.length; i++) if (data[i]!.buffer === mine) this.lent = true;
    }
    return super.write(data);
  }

  private switchBuffer(): void {
    this.lent = false;
    const old = this.buf;
    // Already written (the write finished before this read): keep using it.
    if (!this.writing && this.queued === 0) {
      if (old.byteLength < this.readSize) this.buf = new Uint8Array(this.readSize);
      return;
    }
    (this.lentBuffers ??= []).push(old);
    const next = this.spare;
    this.spare = null;
    this.buf = next !== null && next.byteLength >= this.readSize ? next : new Uint8Array(this.readSize);
  }

  private peerEnded(): void {
    // The peer sent FIN: finish our side after what is queued, then close.
    if (this.writeClosed) this.finish();
    else this.end();
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.gone(error);
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.finish(err instanceof Error ? err : new Error(String(err)));
  }

  flush(): void {
    if (this.writing) return; // the loop in write() picks the queue up
    if (this.queued > 0) void this.writeLoop();
    else if (this.ending) void this.closeWrite();
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      let data = this.takeQueue();
      while (data !== null) {
        this.inflight = data.byteLength;
        let off = 0;
        while (off < data.byteLength) {
          pendingWrites++;
          const issuedAt = stalls;
          let n: number;
          try {
            n = await this.conn.write(off === 0 ? data : data.subarray(off));
          } finally {
            writeSettled(issuedAt);
          }
          if (this.closed) return;
          off += n;
          this.inflight -= n;
        }
        data = this.takeQueue();
        if (data === null && this.wantDrain) {
          this.maybeDrain();
          data = this.takeQueue(); // drain handlers usually write more
        }
      }
    } catch (err) {
      this.fail(err);
      return;
    } finally {
      this.writing = false;
      this.inflight = 0;
      // Drop the emptied queue (V8 keeps the capacity a push gave it): most connections go
      // quiet after a write, and an idle one need not keep an array; the next write makes one.
      if (this.queued === 0) this.queue = null;
      // Nothing is in flight: lent read buffers are free again; keep one as the spare.
      const lent = this.lentBuffers;
      if (lent !== null && lent.length > 0) {
        this.spare = lent[lent.length - 1]!;
        lent.length = 0;
      }
    }
    if (this.ending) await this.closeWrite();
  }

  private async closeWrite(): Promise<void> {
    if (this.writeClosed || this.closed) return;
    this.writeClosed = true;
    if (this.readEof) return this.finish();
    try {
      await this.conn.closeWrite();
    } catch (err) {
      this.fail(err);
    }
  }

  abort(): void {
    this.finish();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.closed) return;
    const n = this.held;
    if (n > 0) {
      this.held = 0;
      this.received(this.buf.subarray(0, n));
      if (this.paused || this.closed) return;
    }
    if (!this.reading && !this.readEof) void this.readLoop();
  }
}

Object.assign(DenoConnection.prototype, { lentBuffers: null, spare: null, inflight: 0, held: 0, smallReads: 0 });

async function setUp<S>(settings: Settings<S>, conn: DenoConn, tls: boolean): Promise<DenoConnection<S> | null> {
  const c = new DenoConnection(settings, conn);
  if (tls && conn.handshake !== undefined) {
    const info = await conn.handshake();
    c.alpnProtocol = info.alpnProtocol ?? "";
  }
  return c;
}

class DenoListenerImpl<S> extends ListenerCore<S> {
  readonly adapter = "deno" as const;
  listener!: DenoListener;
  private stopped = false;

  protected stopAccepting(): void {
    this.stopped = true;
    try {
      this.listener.close();
    } catch {
      // already closed
    }
  }

  start(options: ListenOptions): void {
    const t = options.tls;
    const d = deno();
    const hostname = options.hostname ?? "0.0.0.0";
    const port = options.port ?? 0;
    if (options.reusePort) {
      // Deno exits the process (not throws) when an unstable API is used
      // without its flag, so check first: listenDatagram exists only with --unstable-net.
      const g = d as unknown as { listenDatagram?: unknown; build?: { os?: string } };
      if (typeof g.listenDatagram !== "function" || g.build?.os !== "linux") {
        throw new TransportError(
          "ERR_REUSE_PORT_UNSUPPORTED",
          "reusePort on Deno needs Linux and the --unstable-net flag (or use workers(), which passes it)",
        );
      }
    }
    const sni = t?.sni !== undefined && Object.keys(t.sni).length > 0 ? t.sni : undefined;
    try {
      if (t === undefined) this.listener = d.listen({ hostname, port, reusePort: options.reusePort || undefined });
      else if (sni === undefined) {
        this.listener = d.listenTls({
          hostname,
          port,
          cert: pem(t.cert),
          key: pem(t.key),
          alpnProtocols: t.alpn ?? ["http/1.1"],
          reusePort: options.reusePort || undefined,
        });
      } else {
        const fallback = { cert: pem(t.cert), key: pem(t.key) };
        const named = Object.entries(sni).map(
          ([name, ck]) => [name, { cert: pem(ck.cert), key: pem(ck.key) }] as const,
        );
        try {
          this.listener = d.listenTls({
            hostname,
            port,
            alpnProtocols: t.alpn ?? ["http/1.1"],
            reusePort: options.reusePort || undefined,
            // First matching pattern wins (the node adapter's order); no SNI or no match: the default certificate.
            [SNI_RESOLVER]: (serverName: string) => {
              for (const [pattern, ck] of named) if (matchServername(pattern, serverName)) return ck;
              return fallback;
            },
          });
        } catch (e) {
          if (e instanceof Error && /key and certificate are required/i.test(e.message)) {
            throw new TransportError(
              "ERR_TLS_SNI_UNSUPPORTED",
              `this Deno's listenTls has no certificate resolver, so several certificates chosen by SNI are not supported on the deno adapter (Deno 2.9 has one; or use adapter: "node"): ${e.message}`,
            );
          }
          throw e;
        }
      }
    } catch (e) {
      if (options.reusePort && e instanceof Error && /unstable|reusePort/i.test(e.message)) {
        throw new TransportError(
          "ERR_REUSE_PORT_UNSUPPORTED",
          `reusePort on Deno needs Linux and the --unstable-net flag: ${e.message}`,
        );
      }
      throw e;
    }
    this.port = this.listener.addr.port;
    this.address = this.listener.addr.hostname;
    void this.acceptLoop(t !== undefined);
  }

  private async acceptLoop(tls: boolean): Promise<void> {
    for (;;) {
      let conn: DenoConn;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if (this.stopped) return;
        // Transient accept errors (EMFILE and the like): keep accepting.
        if (err instanceof Error && /closed|BadResource/i.test(err.name + err.message)) return;
        continue;
      }
      void this.accepted1(conn, tls);
    }
  }

  private async accepted1(conn: DenoConn, tls: boolean): Promise<void> {
    const c = new DenoConnection(this.settings, conn);
    if (!this.admit(c)) {
      c.closed = true;
      try {
        conn.close();
      } catch {}
      return;
    }
    if (tls && conn.handshake !== undefined) {
      try {
        const info = await conn.handshake();
        c.alpnProtocol = info.alpnProtocol ?? "";
      } catch (err) {
        c.destroy(err instanceof Error ? err : undefined);
        return;
      }
      if (c.closed) return;
    }
    c.start();
  }
}

function toList(ca: ClientTlsOptions["ca"]): string[] | undefined {
  if (ca === undefined) return undefined;
  return (Array.isArray(ca) ? ca : [ca]).map(pem);
}

export const denoAdapter: Adapter = {
  name: "deno",
  async listen<S>(options: ListenOptions, handlers: Handlers<S>) {
    const l = new DenoListenerImpl<S>(options, handlers);
    l.start(options);
    return l;
  },
  async connect<S>(options: ConnectOptions, handlers: Handlers<S>): Promise<Connection<S>> {
    const settings = settingsFrom(options, handlers, options.wheel ?? null, null);
    const hostname = options.hostname ?? "127.0.0.1";
    const d = deno();
    let conn: DenoConn;
    const isTls = options.tls !== undefined;
    if (isTls) {
      const t: ClientTlsOptions = options.tls === true ? {} : (options.tls as ClientTlsOptions);
      // Deno.connectTls sends `hostname` as SNI and verifies against it unless given a separate server name.
      const o: Parameters<DenoGlobal["connectTls"]>[0] = {
        hostname,
        port: options.port,
        caCerts: toList(t.ca),
        alpnProtocols: t.alpn ?? ["http/1.1"],
      };
      if (t.servername !== undefined && t.servername !== hostname) o[SERVER_NAME] = t.servername;
      conn = await d.connectTls(o);
    } else {
      conn = await d.connect({ hostname, port: options.port });
    }
    const c = await setUp(settings, conn, isTls);
    c!.start();
    return c!;
  },
};
