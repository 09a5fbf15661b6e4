/**
 * The listener's list of open connections (linked through the connections themselves),
 * driven through a fake adapter: counts, accept order, forEachConnection while connections
 * close inside it (also nested), graceful close.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BaseConnection, type Settings } from "../src/connection-base.ts";
import { ListenerCore } from "../src/listener-core.ts";
import type { Connection } from "../src/types.ts";

class FakeConnection extends BaseConnection<unknown> {
  constructor(
    settings: Settings<unknown>,
    readonly id: number,
  ) {
    super(settings);
  }
  runtimeBuffered(): number {
    return 0;
  }
  flush(): void {}
  abort(): void {
    this.gone();
  }
  pause(): void {}
  resume(): void {}
}

class FakeListener extends ListenerCore<unknown> {
  readonly adapter = "node" as const;
  private next = 0;
  protected stopAccepting(): void {}
  /** Accepts a connection as an adapter does (refused ones are closed at once, never listed). */
  accept(): FakeConnection | null {
    const c = new FakeConnection(this.settings, this.next++);
    if (!this.admit(c)) {
      c.closed = true;
      return null;
    }
    c.opened();
    return c;
  }
}

const ids = (l: ListenerCore<unknown>) => {
  const out: number[] = [];
  l.forEachConnection((c) => out.push((c as FakeConnection).id));
  return out;
};

describe("ListenerCore connection list", () => {
  it("counts, keeps accept order and forgets closed connections once", () => {
    const l = new FakeListener({ maxConnections: 3 }, { data() {} });
    const [a, b, c] = [l.accept()!, l.accept()!, l.accept()!];
    assert.equal(l.accept(), null);
    assert.equal(l.rejected, 1);
    assert.deepEqual(ids(l), [0, 1, 2]);
    b.destroy();
    b.destroy();
    assert.equal(l.connections, 2);
    assert.deepEqual(ids(l), [0, 2]);
    const d = l.accept()!;
    assert.deepEqual(ids(l), [0, 2, 4]);
    a.destroy();
    d.destroy();
    assert.deepEqual(ids(l), [2]);
    c.destroy();
    assert.equal(l.connections, 0);
    assert.deepEqual(ids(l), []);
    // Closed connections keep no link to others (nothing retained through one kept by the application).
    for (const x of [a, b, c, d]) {
      assert.equal(x.prevLive, null);
      assert.equal(x.nextLive, null);
    }
  });

  it("property: forEachConnection visits each open connection once, in order, skipping those closed before their turn (also nested)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 0, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(20), fc.nat(20), fc.boolean()), { maxLength: 12 }),
        (closedBefore, closes) => {
          const l = new FakeListener({}, { data() {} });
          const conns = closedBefore.map(() => l.accept()!);
          closedBefore.forEach((closed, i) => {
            if (closed) conns[i]!.destroy();
          });
          const open = conns.filter((c) => !c.closed);
          // Visiting open[i]: close open[j] (when k) or run a nested walk; the model says what must be visited.
          const plan = new Map<number, [number, boolean]>();
          for (const [i, j, k] of closes) if (open.length > 0) plan.set(i % open.length, [j % open.length, k]);
          const visited: number[] = [];
          const expected: number[] = [];
          const gone = new Set<number>();
          for (let i = 0; i < open.length; i++) {
            if (gone.has(i)) continue;
            expected.push(open[i]!.id);
            const p = plan.get(i);
            if (p?.[1]) gone.add(p[0]);
          }
          l.forEachConnection((c: Connection<unknown>) => {
            const f = c as FakeConnection;
            visited.push(f.id);
            const p = plan.get(open.indexOf(f));
            if (p === undefined) return;
            if (p[1]) open[p[0]]!.destroy();
            else {
              // A nested walk sees the same list (minus what is closed) and leaves the outer one intact.
              const inner = ids(l);
              assert.deepEqual(
                inner,
                open.filter((o) => !o.closed).map((o) => o.id),
              );
            }
          });
          assert.deepEqual(visited, expected);
          assert.equal(l.connections, open.filter((o) => !o.closed).length);
        },
      ),
    );
  });

  it("close() destroys what is left at the deadline and reports how many", async () => {
    const l = new FakeListener({}, { data() {} });
    const a = l.accept()!;
    l.accept();
    l.accept();
    a.destroy();
    assert.equal(await l.close({ deadline: 0 }), 2);
    assert.equal(l.connections, 0);
    assert.deepEqual(ids(l), []);
  });
});
