import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type TimerDriver, TimerWheel } from "../src/timer-wheel.ts";

/** A fake clock and a driver that records what the wheel asked for. */
function fake(start = 1_000_000) {
  const clock = { t: start };
  const armed: { cb: () => void; ms: number }[] = [];
  const driver: TimerDriver = {
    set(cb, ms) {
      const h = { cb, ms };
      armed.push(h);
      return h;
    },
    clear(h) {
      const i = armed.indexOf(h as (typeof armed)[number]);
      if (i >= 0) armed.splice(i, 1);
    },
  };
  return { clock, armed, driver, now: () => clock.t };
}

describe("TimerWheel (fake clock)", () => {
  it("fires a timer never early and at most one tick late", () => {
    const f = fake();
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver: false });
    const fired: number[] = [];
    wheel.schedule(95, () => fired.push(f.clock.t), null);
    for (let i = 0; i < 30; i++) {
      f.clock.t += 5;
      wheel.advance();
    }
    assert.equal(fired.length, 1);
    const delay = fired[0]! - 1_000_000;
    assert.ok(delay >= 95 && delay <= 95 + 2 * 10, `fired after ${delay} ms`);
  });

  it("elapsed is now minus the wheel's start: a small integer that moves with the ticks", () => {
    const f = fake(1_763_900_000_000); // a real-looking timestamp, far beyond a small integer
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver: false });
    assert.equal(wheel.elapsed, 0);
    f.clock.t += 1234;
    wheel.advance();
    assert.equal(wheel.elapsed, 1230);
    assert.equal(wheel.now - wheel.elapsed, 1_763_900_000_000);
    assert.ok(Number.isInteger(wheel.elapsed) && wheel.elapsed < 2 ** 30);
  });

  it("cancel is O(1) and a cancelled timer never fires; reschedule moves it", () => {
    const f = fake();
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver: false });
    let a = 0;
    let b = 0;
    const ta = wheel.schedule(50, () => a++, null);
    const tb = wheel.schedule(50, () => b++, null);
    assert.equal(wheel.size, 2);
    assert.equal(wheel.cancel(ta), true);
    assert.equal(wheel.cancel(ta), false);
    assert.equal(wheel.size, 1);
    wheel.reschedule(tb, 500);
    f.clock.t += 100;
    wheel.advance();
    assert.equal(a, 0);
    assert.equal(b, 0);
    f.clock.t += 500;
    wheel.advance();
    assert.equal(b, 1);
    assert.equal(wheel.size, 0);
  });

  it("keeps `now` current across a long idle stretch", () => {
    const f = fake();
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver: false });
    f.clock.t += 60_000; // nothing scheduled for a minute
    wheel.schedule(100, () => {}, null);
    assert.ok(f.clock.t - wheel.now < 10, `now lags by ${f.clock.t - wheel.now} ms`);
  });

  it("handles delays longer than one revolution", () => {
    const f = fake();
    const wheel = new TimerWheel({ tickMs: 1, slots: 8, clock: f.now, driver: false });
    const fired: number[] = [];
    for (const d of [3, 8, 9, 17, 100]) wheel.schedule(d, (x) => fired.push(x), d);
    for (let i = 0; i < 120; i++) {
      f.clock.t += 1;
      wheel.advance();
      for (const d of fired) assert.ok(f.clock.t - 1_000_000 >= d);
    }
    assert.deepEqual(fired, [3, 8, 9, 17, 100]);
  });

  it("callbacks may cancel, reschedule or schedule timers due in the same tick", () => {
    const f = fake();
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver: false });
    const log: string[] = [];
    const t2 = wheel.schedule(20, () => log.push("t2"), null);
    const t3 = wheel.schedule(20, () => log.push("t3"), null);
    wheel.schedule(
      20,
      () => {
        log.push("t1");
        wheel.cancel(t2);
        wheel.reschedule(t3, 100);
        wheel.schedule(0, () => log.push("new"), null);
      },
      null,
    );
    f.clock.t += 40;
    wheel.advance();
    assert.deepEqual(log, ["t1"]);
    f.clock.t += 200;
    wheel.advance();
    assert.deepEqual(log, ["t1", "new", "t3"]);
  });

  it("arms its one driver timeout only while timers are pending", () => {
    const f = fake();
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver: f.driver });
    assert.equal(f.armed.length, 0);
    const t = wheel.schedule(30, () => {}, null);
    wheel.schedule(30, () => {}, null);
    assert.equal(f.armed.length, 1, "one driver timeout for any number of timers");
    wheel.cancel(t);
    assert.equal(f.armed.length, 1);
    // Drive it the way the real timeout would.
    while (f.armed.length > 0) {
      const h = f.armed.shift()!;
      f.clock.t += h.ms;
      h.cb();
    }
    assert.equal(wheel.size, 0);
    assert.equal(f.armed.length, 0, "disarmed when empty");
    wheel.schedule(10, () => {}, null);
    wheel.clear();
    assert.equal(f.armed.length, 0);
    assert.equal(wheel.size, 0);
  });

  it("keeps its driver timeout through cancel-then-schedule cycles (one set, no clear), and stops once it fires empty", () => {
    const f = fake();
    let sets = 0;
    const driver: TimerDriver = {
      set(cb, ms) {
        sets++;
        return f.driver.set(cb, ms);
      },
      clear: f.driver.clear,
    };
    const wheel = new TimerWheel({ tickMs: 10, clock: f.now, driver });
    for (let i = 0; i < 100; i++) wheel.cancel(wheel.schedule(1000, () => {}, null));
    assert.equal(wheel.size, 0);
    assert.equal(sets, 1, "one driver timeout for 100 schedule/cancel cycles");
    assert.equal(f.armed.length, 1, "still armed until it fires");
    const h = f.armed.shift()!;
    f.clock.t += h.ms;
    h.cb();
    assert.equal(f.armed.length, 0, "not re-armed by a tick that found the wheel empty");
    wheel.schedule(10, () => {}, null);
    assert.equal(sets, 2);
    wheel.clear();
    assert.equal(f.armed.length, 0, "clear() disarms at once");
  });

  it("property: every live timer fires exactly once, never early and at most two ticks (plus the clock step) late; cancelled ones never", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(
          fc.record({
            delay: fc.integer({ min: 0, max: 5000 }),
            cancelAt: fc.option(fc.integer({ min: 0, max: 6000 })),
          }),
          { maxLength: 60 },
        ),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 80 }),
        (tickMs, specs, steps) => {
          const f = fake(0);
          const wheel = new TimerWheel({ tickMs, slots: 16, clock: f.now, driver: false });
          const firedAt = new Map<number, number[]>();
          const timers = specs.map((s, i) =>
            wheel.schedule(
              s.delay,
              (id: number) => {
                const list = firedAt.get(id) ?? [];
                list.push(f.clock.t);
                firedAt.set(id, list);
              },
              i,
            ),
          );
          const cancelled = new Set<number>();
          const end = 6000 + 3 * tickMs;
          while (f.clock.t < end) {
            const step = steps[f.clock.t % steps.length]!;
            const next = Math.min(end, f.clock.t + step);
            specs.forEach((s, i) => {
              if (s.cancelAt !== null && s.cancelAt >= f.clock.t && s.cancelAt < next && !firedAt.has(i)) {
                wheel.cancel(timers[i]!);
                cancelled.add(i);
              }
            });
            f.clock.t = next;
            wheel.advance();
          }
          specs.forEach((s, i) => {
            const fired = firedAt.get(i) ?? [];
            if (cancelled.has(i)) assert.equal(fired.length, 0);
            else {
              assert.equal(fired.length, 1, `timer ${i} fired ${fired.length} times`);
              assert.ok(fired[0]! >= s.delay, `timer ${i} early: ${fired[0]} < ${s.delay}`);
              assert.ok(fired[0]! <= s.delay + 2 * tickMs + 300, `timer ${i} late: ${fired[0]} for ${s.delay}`);
            }
          });
          assert.equal(wheel.size, 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
