/**
 * A hashed timer wheel: one driver timeout for any number of deadlines.
 *
 * Pure (no runtime APIs besides an injectable clock and driver), so tests run
 * it with a fake clock. `schedule`, `reschedule` and `cancel` are O(1): a timer
 * is a node in a doubly linked list hung off the slot of the tick it expires
 * on. Each tick visits one slot; timers more than one revolution away stay in
 * their slot until their tick comes round (they are skipped, not moved).
 *
 * Resolution is `tickMs` (default 100 ms): a timer fires never early and at
 * most one tick late. This suits protocol deadlines
 * (handshake, idle, ping), not animation.
 */

export type Clock = () => number;

/** What arms the one real timeout. Injected in tests (or `false`: advance by hand). */
export interface TimerDriver {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface TimerWheelOptions {
  /** Milliseconds per tick. Default 100. */
  tickMs?: number;
  /** Slots per revolution, rounded up to a power of two. Default 512. */
  slots?: number;
  /** Milliseconds now. Default `Date.now`. */
  clock?: Clock;
  /** Default: `setTimeout`/`clearTimeout`. `false`: never armed, call `advance()`. */
  driver?: TimerDriver | false;
}

/** A scheduled callback. Reusable: `reschedule` it instead of allocating a new one. */
export class Timer<T = unknown> {
  /** @internal */ prev: Timer | null = null;
  /** @internal */ next: Timer | null = null;
  /** @internal tick on which it fires; -1 when not scheduled */ at = -1;
  callback: (arg: T) => void;
  arg: T;
  constructor(callback: (arg: T) => void, arg: T) {
    this.callback = callback;
    this.arg = arg;
  }
  get scheduled(): boolean {
    return this.at >= 0 || this.at === -2;
  }
}

/** `at` of a timer unlinked because it is due, whose callback has not run yet. */
const FIRING = -2;

const defaultDriver: TimerDriver = {
  set: (cb, ms) => setTimeout(cb, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class TimerWheel {
  readonly tickMs: number;
  private readonly mask: number;
  private readonly heads: (Timer | null)[];
  private readonly clock: Clock;
  private readonly driver: TimerDriver | false;
  private readonly origin: number;
  /** Ticks processed so far. */
  private tick = 0;
  private count = 0;
  private armed: unknown = undefined;
  private readonly due: Timer[] = [];
  private isArmed = false;
  private readonly onDriver = () => {
    this.isArmed = false;
    this.advance();
  };

  constructor(options: TimerWheelOptions = {}) {
    this.tickMs = Math.max(1, options.tickMs ?? 100);
    let slots = 1;
    while (slots < (options.slots ?? 512)) slots <<= 1;
    this.mask = slots - 1;
    this.heads = new Array(slots).fill(null);
    this.clock = options.clock ?? Date.now;
    this.driver = options.driver === undefined ? defaultDriver : options.driver;
    this.origin = this.clock();
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get size(): number {
    return this.count;
  }

  /** The wheel's notion of now: the clock time of the last processed tick. Cheap to read in hot paths. */
  get now(): number {
    return this.origin + this.tick * this.tickMs;
  }

  /**
   * Milliseconds from the wheel's creation to `now`: a small integer, cheaper
   * to keep per connection than a timestamp (which V8 stores as a boxed number).
   */
  get elapsed(): number {
    return this.tick * this.tickMs;
  }

  /** Creates and schedules a timer firing `callback(arg)` after at least `delayMs`. */
  schedule<T>(delayMs: number, callback: (arg: T) => void, arg: T): Timer<T> {
    const timer = new Timer(callback, arg);
    this.insert(timer as unknown as Timer, delayMs);
    return timer;
  }

  /** Moves a timer (scheduled or not) to fire `delayMs` from now. */
  reschedule<T>(timer: Timer<T>, delayMs: number): void {
    const t = timer as unknown as Timer;
    if (t.at >= 0) this.unlink(t);
    else if (t.at === FIRING) t.at = -1;
    this.insert(t, delayMs);
  }

  /** Returns true if the timer was pending. */
  cancel<T>(timer: Timer<T>): boolean {
    const t = timer as unknown as Timer;
    if (t.at === FIRING) {
      t.at = -1;
      return true;
    }
    if (t.at < 0) return false;
    this.unlink(t);
    // The driver timeout stays armed when the wheel empties: it fires once more, finds nothing and
    // stops. A connection that schedules a head timeout and cancels it on upgrade would otherwise
    // cost a setTimeout and a clearTimeout each whenever it is the only one pending.
    return true;
  }

  /**
   * Processes every tick up to `nowMs` (default: the clock), firing due timers
   * in deadline order per tick. Returns the number fired. A callback may
   * schedule or cancel any timer, including itself.
   */
  advance(nowMs: number = this.clock()): number {
    const target = Math.floor((nowMs - this.origin) / this.tickMs);
    const due = this.due;
    let fired = 0;
    while (this.tick < target) {
      this.tick++;
      if (this.count === 0) {
        this.tick = target;
        break;
      }
      // Unlink every due timer of this slot first, then fire: callbacks may
      // then schedule, reschedule or cancel anything, including other due timers.
      let t = this.heads[this.tick & this.mask] ?? null;
      while (t !== null) {
        const next: Timer | null = t.next;
        if (t.at <= this.tick) {
          this.unlink(t);
          t.at = FIRING;
          due.push(t);
        }
        t = next;
      }
      for (let i = 0; i < due.length; i++) {
        const d = due[i]!;
        if (d.at !== FIRING) continue; // cancelled or rescheduled by an earlier callback
        d.at = -1;
        fired++;
        d.callback(d.arg);
      }
      due.length = 0;
    }
    if (this.count > 0) this.arm();
    else this.disarm();
    return fired;
  }

  /** Cancels every timer and stops the driver. */
  clear(): void {
    for (let i = 0; i <= this.mask; i++) {
      let t = this.heads[i] ?? null;
      while (t !== null) {
        const next: Timer | null = t.next;
        t.prev = t.next = null;
        t.at = -1;
        t = next;
      }
      this.heads[i] = null;
    }
    this.count = 0;
    this.disarm();
  }

  private insert(timer: Timer, delayMs: number): void {
    // Count from the real current tick (the driver may be late) plus one, so
    // that a timer never fires early: it fires within one tick after its deadline.
    const real = Math.floor((this.clock() - this.origin) / this.tickMs);
    // An empty wheel has nothing to process: catch up, so that `now` is current.
    if (this.count === 0 && real > this.tick) this.tick = real;
    const at = Math.max(real, this.tick) + 1 + Math.ceil(Math.max(0, delayMs) / this.tickMs);
    timer.at = at;
    const slot = at & this.mask;
    const head = this.heads[slot] ?? null;
    timer.prev = null;
    timer.next = head;
    if (head !== null) head.prev = timer;
    this.heads[slot] = timer;
    if (this.count++ === 0) this.arm();
  }

  private unlink(timer: Timer): void {
    const slot = timer.at & this.mask;
    if (timer.prev !== null) timer.prev.next = timer.next;
    else this.heads[slot] = timer.next;
    if (timer.next !== null) timer.next.prev = timer.prev;
    timer.prev = timer.next = null;
    timer.at = -1;
    this.count--;
  }

  private arm(): void {
    if (this.isArmed || this.driver === false) return;
    this.isArmed = true;
    // Wake at the next tick boundary.
    const next = this.origin + (this.tick + 1) * this.tickMs;
    this.armed = this.driver.set(this.onDriver, Math.max(1, next - this.clock()));
  }

  private disarm(): void {
    if (!this.isArmed || this.driver === false) return;
    this.isArmed = false;
    this.driver.clear(this.armed);
    this.armed = undefined;
  }
}
