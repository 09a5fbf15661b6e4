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
  protected readonly live = new Set<BaseConnection<S>>();
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
    return this.live.size;
  }

  forEachConnection(fn: (conn: Connection<unknown>) => void): void {
    for (const c of this.live) fn(c as Connection<unknown>);
  }

  /** Adapter: a connection was accepted. Returns false (and counts it) if over the limit: the adapter closes it. */
  admit(conn: BaseConnection<S>): boolean {
    if (this.closing !== null) return false;
    if (this.live.size >= this.maxConnections) {
      this.rejected++;
      return false;
    }
    this.accepted++;
    this.live.add(conn);
    return true;
  }

  private forget(conn: BaseConnection<S>): void {
    if (this.live.delete(conn) && this.live.size === 0 && this.allGone !== null) this.allGone();
  }

  /** Adapter: stop accepting new connections. */
  protected abstract stopAccepting(): void | Promise<void>;

  close(options: CloseOptions = {}): Promise<number> {
    if (this.closing !== null) return this.closing;
    const deadline = options.deadline ?? 0;
    this.closing = (async () => {
      await this.stopAccepting();
      let forced = 0;
      if (this.live.size > 0) {
        await new Promise<void>((resolve) => {
          this.allGone = resolve;
          const force = () => {
            forced = this.live.size;
            const err = new TransportError(
              "ERR_SHUTDOWN_DEADLINE",
              `listener closed: deadline of ${deadline} ms passed`,
            );
            for (const c of [...this.live]) c.destroy(err);
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
