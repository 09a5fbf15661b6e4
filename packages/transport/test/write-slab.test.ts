import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { WriteSlab } from "../src/adapters/write-slab.ts";

describe("WriteSlab", () => {
  it("starts again at offset 0 once every region is released, with one cached view per length", () => {
    const slab = new WriteSlab(1024);
    const a = slab.take(10);
    const b = slab.take(10);
    assert.equal(a.byteOffset, 0);
    assert.equal(b.byteOffset, 16, "regions are 8-byte aligned and do not overlap");
    slab.release(a);
    const c = slab.take(10);
    assert.equal(c.byteOffset, 32, "space below a live region is not reused yet");
    slab.release(b);
    slab.release(c);
    assert.equal(slab.liveRegions, 0);
    const d = slab.take(10);
    assert.equal(d.byteOffset, 0);
    assert.equal(d, a, "the same view object for the same length at offset 0");
  });

  it("takes back an allocated region that was never written", () => {
    const slab = new WriteSlab(1024);
    const held = slab.take(100); // an asynchronous write, say
    const unused = slab.allocate(40);
    assert.equal(unused.byteOffset, 104);
    const next = slab.take(40);
    assert.equal(next.byteOffset, 104, "the unused region's space is handed out again");
    assert.equal(slab.liveRegions, 2);
    const written = slab.allocate(8);
    slab.claim(written);
    const after = slab.take(8);
    assert.equal(after.byteOffset, written.byteOffset + 8, "a written region stays live");
    for (const r of [held, next, written, after]) slab.release(r);
    assert.equal(slab.liveRegions, 0);
  });

  it("replaces a full slab and ignores releases of the old one", () => {
    const slab = new WriteSlab(64);
    const a = slab.take(40);
    const b = slab.take(40); // does not fit: a new slab
    assert.notEqual(a.buffer, b.buffer);
    assert.equal(b.byteOffset, 0);
    assert.ok(a.buffer !== slab.buffer && b.buffer === slab.buffer);
    slab.release(a);
    assert.equal(slab.liveRegions, 1, "the old slab's region does not count against the new one");
    slab.release(b);
    assert.equal(slab.liveRegions, 0);
  });

  it("never hands out memory of a live region (random take, allocate, abandon, release)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("take" as const), n: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant("allocate" as const), n: fc.integer({ min: 1, max: 300 }), write: fc.boolean() }),
      fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const slab = new WriteSlab(1024);
        // Each live region is filled with its own number; every check reads all of them back.
        const live: { view: Uint8Array; tag: number }[] = [];
        let tag = 0;
        const check = () => {
          for (const r of live) for (const x of r.view) assert.equal(x, r.tag, "a live region was overwritten");
        };
        for (const o of ops) {
          if (o.kind === "release") {
            if (live.length === 0) continue;
            const [r] = live.splice(o.pick % live.length, 1);
            slab.release(r!.view);
          } else if (o.kind === "take") {
            const view = slab.take(o.n);
            tag = (tag + 1) & 0xff;
            view.fill(tag);
            live.push({ view, tag });
          } else {
            const view = slab.allocate(o.n);
            tag = (tag + 1) & 0xff;
            view.fill(tag);
            if (o.write) {
              slab.claim(view);
              live.push({ view, tag });
            }
          }
          check();
        }
        for (const r of live) slab.release(r.view);
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
