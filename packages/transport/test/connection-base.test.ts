/**
 * The adapter-independent core of a connection, driven through a fake
 * adapter that records every "system write": coalescing, high-water mark,
 * write-buffer limit, end() ordering, once-only close.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BaseConnection, type Settings, settingsFrom } from "../src/connection-base.ts";
import { TransportError } from "../src/errors.ts";
import type { Handlers } from "../src/types.ts";

class FakeConnection extends BaseConnection<unknown> {
  writes: Uint8Array[] = [];
  fin = false;
  aborted = false;
  held = 0;
  runtimeBuffered(): number {
    return this.held;
  }
  flush(): void {
    const data = this.takeQueue();
    if (data !== null) {
      this.writes.push(data.slice());
      this.held += data.byteLength;
    }
    if (this.ending) this.fin = true;
  }
  abort(): void {
    this.aborted = true;
    this.gone();
  }
  pause(): void {}
  resume(): void {}
}

function make(handlers: Partial<Handlers> = {}, options = {}) {
  const settings: Settings<unknown> = settingsFrom(options, { data() {}, ...handlers }, null, null);
  const c = new FakeConnection(settings);
  c.opened();
  return c;
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));
const bytes = (...xs: number[]) => new Uint8Array(xs);

describe("connection core (fake adapter)", () => {
  it("coalesces every write of one tick into one system write", async () => {
    const c = make();
    c.write(bytes(1, 2));
    c.write([bytes(3), bytes(4, 5)]);
    c.write(bytes(6));
    assert.equal(c.writes.length, 0, "nothing is written synchronously");
    assert.equal(c.bufferedAmount, 6);
    await tick();
    assert.deepEqual(c.writes, [bytes(1, 2, 3, 4, 5, 6)]);
    c.write(bytes(7));
    await tick();
    assert.equal(c.writes.length, 2, "the next tick is a new write");
  });

  it("flushes a data handler's writes as one write when it returns", () => {
    const c = make({
      data(conn, b) {
        conn.write(b);
        conn.write(bytes(9));
      },
    });
    c.received(bytes(1, 2, 3));
    assert.deepEqual(c.writes, [bytes(1, 2, 3, 9)]);
  });

  it("returns false at the high-water mark, then drains once below it", async () => {
    let drains = 0;
    const c = make({ drain: () => drains++ }, { highWaterMark: 10 });
    assert.equal(c.write(new Uint8Array(9)), true);
    assert.equal(c.write(new Uint8Array(1)), false);
    await tick();
    c.held = 4;
    c.maybeDrain();
    assert.equal(drains, 1);
    c.maybeDrain();
    assert.equal(drains, 1, "drain is owed once per false");
  });

  it("destroys with ERR_WRITE_BUFFER_LIMIT past maxBufferedAmount", () => {
    let error: Error | undefined;
    const c = make({ close: (_c, e) => (error = e) }, { highWaterMark: 4, maxBufferedAmount: 8 });
    c.write(new Uint8Array(8));
    assert.equal(c.closed, false);
    assert.equal(c.write(new Uint8Array(1)), false);
    assert.ok(c.aborted);
    assert.ok(error instanceof TransportError);
    assert.equal(error.code, "ERR_WRITE_BUFFER_LIMIT");
  });

  it("end() sends every written byte before FIN and refuses later writes", async () => {
    const c = make();
    c.write(bytes(1));
    c.end();
    assert.equal(c.write(bytes(2)), false);
    await tick();
    assert.deepEqual(c.writes, [bytes(1)]);
    assert.equal(c.fin, true);
  });

  it("delivers close exactly once, and never for a connection that did not open", () => {
    let closes = 0;
    const c = make({ close: () => closes++ });
    c.destroy();
    c.destroy();
    c.gone();
    assert.equal(closes, 1);
    const settings = settingsFrom({}, { data() {}, close: () => closes++ }, null, null);
    const never = new FakeConnection(settings);
    never.gone();
    assert.equal(closes, 1);
  });
});
