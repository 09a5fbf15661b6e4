import assert from "node:assert/strict";
import { rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { StaticSite } from "../src/index.ts";
import { countingFs, get, tempTree } from "./helpers.ts";

describe("changes on disk", () => {
  it("picks up a changed file on the next stat revalidation", async () => {
    const t = tempTree({ "a.txt": "version one" });
    after(() => t.cleanup());
    const s = new StaticSite({ root: t.dir, watch: false, revalidateMs: 0 });
    const first = await get(s, "/a.txt");
    assert.equal(first.text, "version one");
    writeFileSync(join(t.dir, "a.txt"), "version two, longer");
    const second = await get(s, "/a.txt");
    assert.equal(second.text, "version two, longer");
    assert.notEqual(second.headers.get("etag"), first.headers.get("etag"));
    // Same size, new mtime: still noticed.
    writeFileSync(join(t.dir, "a.txt"), "version TWO, longer");
    utimesSync(join(t.dir, "a.txt"), new Date(), new Date(Date.now() + 5000));
    assert.equal((await get(s, "/a.txt")).text, "version TWO, longer");
    s.close();
  });

  it("stops serving a deleted file", async () => {
    const t = tempTree({ "gone.txt": "here", "docs/index.html": "docs" });
    after(() => t.cleanup());
    const s = new StaticSite({ root: t.dir, watch: false, revalidateMs: 0 });
    assert.equal((await get(s, "/gone.txt")).status, 200);
    assert.equal((await get(s, "/docs/")).status, 200);
    rmSync(join(t.dir, "gone.txt"));
    rmSync(join(t.dir, "docs"), { recursive: true });
    assert.equal((await get(s, "/gone.txt")).status, 404);
    assert.equal((await get(s, "/docs/")).status, 404);
    assert.equal(s.cachedFiles, 0);
    s.close();
  });

  it("stats a cached file at most once per revalidation interval", async () => {
    const t = tempTree({ "a.txt": "x" });
    after(() => t.cleanup());
    const fs = countingFs();
    const s = new StaticSite({ root: t.dir, watch: false, fs, revalidateMs: 60_000 });
    await get(s, "/a.txt");
    const stats = fs.stats;
    for (let i = 0; i < 20; i++) await get(s, "/a.txt");
    assert.equal(fs.stats, stats);
    s.close();
    const fs0 = countingFs();
    const s0 = new StaticSite({ root: t.dir, watch: false, fs: fs0, revalidateMs: 0 });
    await get(s0, "/a.txt");
    const before = fs0.stats;
    await get(s0, "/a.txt");
    assert.equal(fs0.stats, before + 1);
    s0.close();
  });

  it("shares one entry between a directory and its index file", async () => {
    const t = tempTree({ "d/index.html": "idx" });
    after(() => t.cleanup());
    const fs = countingFs();
    const s = new StaticSite({ root: t.dir, watch: false, fs });
    await get(s, "/d/");
    await get(s, "/d/index.html");
    assert.equal(fs.reads, 1);
    assert.equal(s.cachedFiles, 1);
    s.close();
  });

  it("learns of a change from the watcher, without waiting for the revalidation interval", async () => {
    const t = tempTree({ "w/a.txt": "before" });
    after(() => t.cleanup());
    let notify: (rel: string | null) => void = () => {};
    const s = new StaticSite({
      root: t.dir,
      revalidateMs: 3_600_000,
      onInvalidate: (rel) => notify(rel),
    });
    assert.equal((await get(s, "/w/a.txt")).text, "before");
    const seen = new Promise<string | null>((resolve) => {
      notify = (rel) => {
        if (rel === null || rel.endsWith("a.txt") || rel === "w") resolve(rel);
      };
    });
    writeFileSync(join(t.dir, "w", "a.txt"), "after!");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), 5000);
    });
    const event = await Promise.race([seen, bound]);
    clearTimeout(timer);
    assert.notEqual(event, "timeout", "no watcher event within 5 s");
    assert.equal((await get(s, "/w/a.txt")).text, "after!");
    s.close();
  });
});
