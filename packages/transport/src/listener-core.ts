/**
 * Listener bookkeeping shared by the adapters: connection set, counters,
 * the connection limit and graceful close with a deadline.
 */
import { type BaseConnection, type Settings, settingsFrom } from "./connection-base.ts";
import { TransportError } from "./errors.ts";
import { TimerWheel } from "./timer-wheel.ts";
import type { AdapterName, CloseOptions, Connection, Handlers, Listener, ListenOptions } from "./types.ts";

export abstract class ListenerCore<S = unknown> implements Listener {
  abstract readonly adapter: AdapterName;
  port = 0;
  address = "";
  accepted = 0;
  rejected = 0;
  readonly wheel: TimerWheel;
  readonly settings: Settings<S>;
  readonly maxConnections: number;
  /**
   * Open connections, a doubly linked list in accept order through the connections' own
   * `prevLive`/`nextLive` fields (no Set entry per connection: memory per idle connection).
   */
  private first: BaseConnection<S> | null = null;
  private last: BaseConnection<S> | null = null;
  private count = 0;
  /** The next connection of each `forEachConnection` running now (innermost last), moved on when it closes. */
  private readonly cursors: (BaseConnection<S> | null)[] = [];
  private closing: Promise<number> | null = null;
  private allGone: (() => void) | null = null;
  private readonly ownWheel: boolean;

  constructor(options: ListenOptions, handlers: Handlers<S>) {
    this.ownWheel = options.wheel === undefined;
    this.wheel = options.wheel ?? new TimerWheel();
    this.maxConnections = options.maxConnections ?? Number.POSITIVE_INFINITY;
    if (!(this.maxConnections >= 0)) throw new TransportError("ERR_INVALID_OPTION", "maxConnections must be >= 0");
    this.settings = settingsFrom(options, handlers, this.wheel, (c) => this.forget(c));
  }

  get connections(): number {
    return this.count;
  }

  forEachConnection(fn: (conn: Connection<unknown>) => void): void {
    const cursors = this.cursors;
    const at = cursors.length;
    cursors.push(this.first);
    try {
      for (let c = cursors[at]!; c !== null; c = cursors[at]!) {
        cursors[at] = c.nextLive;
        fn(c as Connection<unknown>);
      }
    } finally {
      cursors.length = at;
    }
  }

  /** Every open connection, in a new array. */
  private all(): BaseConnection<S>[] {
    const out: BaseConnection<S>[] = [];
    for (let c = this.first; c !== null; c = c.nextLive) out.push(c);
    return out;
  }

  /** Adapter: a connection was accepted. Returns false (and counts it) if over the limit: the adapter closes it. */
  admit(conn: BaseConnection<S>): boolean {
    if (this.closing !== null) return false;
    if (this.count >= this.maxConnections) {
      this.rejected++;
      return false;
    }
    this.accepted++;
    const last = this.last;
    conn.prevLive = last;
    conn.nextLive = null;
    if (last === null) this.first = conn;
    else last.nextLive = conn;
    this.last = conn;
    this.count++;
    return true;
  }

  private forget(conn: BaseConnection<S>): void {
    // Only connections of this listener's list (a refused one was never added).
    if (conn.prevLive === null && this.first !== conn) return;
    const prev = conn.prevLive;
    const next = conn.nextLive;
    if (prev === null) this.first = next;
    else prev.nextLive = next;
    if (next === null) this.last = prev;
    else next.prevLive = prev;
    // A running forEachConnection that was to visit this one goes on with its successor.
    const cursors = this.cursors;
    for (let i = 0; i < cursors.length; i++) if (cursors[i] === conn) cursors[i] = next;
    // Unlinked completely, so a closed connection kept by the application holds no other.
    conn.prevLive = null;
    conn.nextLive = null;
    this.count--;
    if (this.count === 0 && this.allGone !== null) this.allGone();
  }

  /** Adapter: stop accepting new connections. */
  protected abstract stopAccepting(): void | Promise<void>;

  close(options: CloseOptions = {}): Promise<number> {
    if (this.closing !== null) return this.closing;
    const deadline = options.deadline ?? 0;
    this.closing = (async () => {
      await this.stopAccepting();
      let forced = 0;
      if (this.count > 0) {
        await new Promise<void>((resolve) => {
          this.allGone = resolve;
          const force = () => {
            forced = this.count;
            const err = new TransportError(
              "ERR_SHUTDOWN_DEADLINE",
              `listener closed: deadline of ${deadline} ms passed`,
            );
            for (const c of this.all()) c.destroy(err);
          };
          if (deadline <= 0) force();
          else {
            const t = this.wheel.schedule(deadline, force, undefined);
            const done = this.allGone;
            this.allGone = () => {
              this.wheel.cancel(t);
              done();
            };
          }
        });
      }
      if (this.ownWheel) this.wheel.clear();
      return forced;
    })();
    return this.closing;
  }
}
