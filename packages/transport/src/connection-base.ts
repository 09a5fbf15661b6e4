/**
 * What every adapter's connection shares: the user-state slot, limits,
 * high-water-mark bookkeeping, the idle deadline, the once-only close, and
 * the per-tick write batching (one microtask flushes every connection that
 * was written to in this tick, so a tick's writes become one system write).
 */
import { TransportError } from "./errors.ts";
import type { Timer, TimerWheel } from "./timer-wheel.ts";
import type { CommonOptions, Connection, Handlers } from "./types.ts";

export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
export const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;

/** Per-listener (or per-connect) settings shared by its connections. */
export interface Settings<S = unknown> {
  handlers: Handlers<S>;
  highWaterMark: number;
  maxBufferedAmount: number;
  idleTimeout: number;
  noDelay: boolean;
  wheel: TimerWheel | null;
  /** Called once when a connection closes (listener bookkeeping). */
  onGone: ((conn: BaseConnection<S>) => void) | null;
}

export function settingsFrom<S>(
  options: CommonOptions,
  handlers: Handlers<S>,
  wheel: TimerWheel | null,
  onGone: Settings<S>["onGone"],
): Settings<S> {
  if (typeof handlers?.data !== "function") {
    throw new TransportError("ERR_INVALID_OPTION", "handlers.data(conn, bytes) is required");
  }
  return {
    handlers,
    highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    maxBufferedAmount: options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED,
    idleTimeout: options.idleTimeout ?? 0,
    noDelay: options.noDelay ?? true,
    wheel,
    onGone,
  };
}

// One microtask per tick flushes every connection written to in that tick.
let dirty: BaseConnection<unknown>[] = [];
let spare: BaseConnection<unknown>[] = [];
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  const list = dirty;
  dirty = spare;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    c.dirty = false;
    if (!c.closed) c.flush();
  }
  list.length = 0;
  spare = list;
}

function onIdleTimer(conn: BaseConnection<unknown>): void {
  conn.checkIdle();
}

const B_CLOSED = 1;
const B_OPEN = 2;
const B_DIRTY = 4;
const B_IN_RECEIVE = 8;
const B_ENDING = 16;
const B_WANT_DRAIN = 32;
/** Bits from this one up are the adapter's own (see `bits`). */
export const ADAPTER_BITS = 256;

/**
 * Kept small on purpose (memory per idle connection): the booleans share one
 * integer, times are small integers relative to the wheel, and the TLS-only
 * strings live on the prototype until an adapter sets them.
 */
export abstract class BaseConnection<S = unknown> implements Connection<S> {
  state: S | undefined = undefined;
  /** Set by the adapter ("" from the prototype until then; the Node handle path reads it on first use). */
  declare remoteAddress: string;
  declare remotePort: number;
  /** Flag bits: the booleans below, and the adapter's own from `ADAPTER_BITS` up. */
  protected bits = 0;
  /** Chunks written this tick, not yet handed to the runtime. */
  queue: Uint8Array[] | null = null; // allocated on the first write (idle connections stay small)
  queued = 0;
  /**
   * Neighbours in the listener's list of open connections (see ListenerCore): two fields
   * instead of an entry in a Set, which cost ~53 B per connection on Bun at 10,000.
   */
  prevLive: BaseConnection<S> | null = null;
  nextLive: BaseConnection<S> | null = null;
  /** `wheel.elapsed` at the last read (idle deadline). 0 from the prototype until an idle timeout is set. */
  declare lastRead: number;
  /** null from the prototype until an idle timeout is set. */
  declare idleTimer: Timer<BaseConnection<unknown>> | null;
  /** Why the connection closed, if not cleanly (undefined from the prototype). */
  declare error: Error | undefined;
  readonly settings: Settings<S>;
  /** ALPN protocol (TLS); `""` from the prototype until set. */
  declare alpnProtocol: string;
  /** SNI name (TLS); `""` from the prototype until set. */
  declare servername: string;

  constructor(settings: Settings<S>) {
    this.settings = settings;
  }

  private flag(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }
  get closed(): boolean {
    return (this.bits & B_CLOSED) !== 0;
  }
  set closed(v: boolean) {
    this.flag(B_CLOSED, v);
  }
  /** `open` was delivered (so `close` is owed). */
  get isOpen(): boolean {
    return (this.bits & B_OPEN) !== 0;
  }
  set isOpen(v: boolean) {
    this.flag(B_OPEN, v);
  }
  /** In the per-tick flush list. */
  get dirty(): boolean {
    return (this.bits & B_DIRTY) !== 0;
  }
  set dirty(v: boolean) {
    this.flag(B_DIRTY, v);
  }
  /** Inside the `data` handler: writes are flushed when it returns, without a microtask. */
  get inReceive(): boolean {
    return (this.bits & B_IN_RECEIVE) !== 0;
  }
  set inReceive(v: boolean) {
    this.flag(B_IN_RECEIVE, v);
  }
  /** end() was called: no more writes; FIN after the queue is flushed. */
  get ending(): boolean {
    return (this.bits & B_ENDING) !== 0;
  }
  set ending(v: boolean) {
    this.flag(B_ENDING, v);
  }
  /** write() returned false; `drain` is owed. */
  get wantDrain(): boolean {
    return (this.bits & B_WANT_DRAIN) !== 0;
  }
  set wantDrain(v: boolean) {
    this.flag(B_WANT_DRAIN, v);
  }

  /** Bytes the runtime holds for this connection beyond our own queue. */
  abstract runtimeBuffered(): number;
  /** Hands `queue` to the runtime as one write, and sends FIN after it if `ending`. */
  abstract flush(): void;
  /** Closes the underlying socket abruptly; the adapter later calls `gone()`. */
  abstract abort(): void;
  abstract pause(): void;
  abstract resume(): void;

  get bufferedAmount(): number {
    return this.queued + this.runtimeBuffered();
  }

  write(data: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.ending || this.closed) return false;
    const q = (this.queue ??= []);
    if (data instanceof Uint8Array) {
      if (data.byteLength === 0) return this.bufferedAmount < this.settings.highWaterMark;
      q.push(data);
      this.queued += data.byteLength;
    } else {
      for (let i = 0; i < data.length; i++) {
        const d = data[i]!;
        if (d.byteLength === 0) continue;
        q.push(d);
        this.queued += d.byteLength;
      }
    }
    if (!this.dirty && !this.inReceive) this.markDirty();
    const buffered = this.queued + this.runtimeBuffered();
    if (buffered < this.settings.highWaterMark) return true;
    if (buffered > this.settings.maxBufferedAmount) {
      this.destroy(
        new TransportError(
          "ERR_WRITE_BUFFER_LIMIT",
          `write buffer limit exceeded: ${buffered} bytes buffered > maxBufferedAmount ${this.settings.maxBufferedAmount} (the peer is not reading)`,
        ),
      );
      return false;
    }
    this.wantDrain = true;
    return false;
  }

  end(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    if (!this.dirty && !this.inReceive) this.markDirty();
  }

  /** A fresh buffer to fill and write; adapters with a write pool of their own hand out pool memory. */
  allocate(n: number): Uint8Array {
    return new Uint8Array(n);
  }

  destroy(error?: Error): void {
    if (this.closed) return;
    if (error !== undefined && this.error === undefined) this.error = error;
    this.dropQueue();
    this.abort();
  }

  /** Forgets the chunks not yet handed to the runtime (the connection is closing). */
  protected dropQueue(): void {
    if (this.queue !== null) this.queue.length = 0;
    this.queued = 0;
  }

  markDirty(): void {
    this.dirty = true;
    dirty.push(this as BaseConnection<unknown>);
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushAll);
    }
  }

  /** Takes the queued chunks as one buffer (no copy when there is one chunk). */
  takeQueue(): Uint8Array | null {
    const q = this.queue;
    if (q === null || q.length === 0) return null;
    let out: Uint8Array;
    if (q.length === 1) {
      out = q.pop()!;
      this.queued = 0;
      return out;
    } else {
      out = new Uint8Array(this.queued);
      let o = 0;
      for (let i = 0; i < q.length; i++) {
        out.set(q[i]!, o);
        o += q[i]!.byteLength;
      }
    }
    q.length = 0;
    this.queued = 0;
    return out;
  }

  /** Adapter: the runtime's buffer shrank; emit `drain` if it is owed and due. */
  maybeDrain(): void {
    if (!this.wantDrain || this.closed) return;
    if (this.queued + this.runtimeBuffered() >= this.settings.highWaterMark) return;
    this.wantDrain = false;
    this.settings.handlers.drain?.(this);
  }

  /** Adapter: the connection is ready. */
  opened(): void {
    if (this.closed || this.isOpen) return;
    this.isOpen = true;
    const s = this.settings;
    if (s.idleTimeout > 0 && s.wheel !== null) {
      this.idleTimer = s.wheel.schedule(s.idleTimeout, onIdleTimer, this as BaseConnection<unknown>);
      this.lastRead = s.wheel.elapsed; // after schedule(), which brings an idle wheel's clock up to date
    }
    s.handlers.open?.(this);
  }

  /**
   * Adapter: bytes arrived. Writes made by the handler are flushed as one
   * write as soon as it returns (the common request/response and echo case
   * skips the microtask hop); writes made later in the tick go through the
   * per-tick flush.
   */
  received(bytes: Uint8Array): void {
    if (this.idleTimer !== null) this.lastRead = this.settings.wheel!.elapsed;
    this.inReceive = true;
    try {
      this.settings.handlers.data(this, bytes);
    } finally {
      this.inReceive = false;
      if ((this.queued > 0 || this.ending) && !this.closed && !this.dirty) this.flush();
    }
  }

  checkIdle(): void {
    const s = this.settings;
    if (this.closed || s.wheel === null) return;
    const idle = s.wheel.elapsed - this.lastRead;
    if (idle >= s.idleTimeout) {
      this.destroy(new TransportError("ERR_IDLE_TIMEOUT", `no data received for ${s.idleTimeout} ms`));
    } else {
      s.wheel.reschedule(this.idleTimer!, s.idleTimeout - idle);
    }
  }

  /** Adapter: the socket is closed. Delivers `close` exactly once. */
  gone(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (error !== undefined && this.error === undefined) this.error = error;
    this.dropQueue();
    if (this.idleTimer !== null) {
      this.settings.wheel?.cancel(this.idleTimer);
      this.idleTimer = null;
    }
    this.settings.onGone?.(this);
    if (this.isOpen) this.settings.handlers.close?.(this, this.error);
  }
}

// Rarely set fields default from the prototype, so most connections do not carry them.
Object.assign(BaseConnection.prototype, {
  remoteAddress: "",
  remotePort: 0,
  alpnProtocol: "",
  servername: "",
  lastRead: 0,
  idleTimer: null,
  error: undefined,
});
