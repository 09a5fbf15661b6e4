import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { StaticSite } from "../src/index.ts";
import { countingFs, get, tempTree } from "./helpers.ts";

const text = "hello, wirehouse! ".repeat(400); // compresses well
const noise = new Uint8Array(randomBytes(4096)); // does not
const tree = tempTree({
  "index.html": "<h1>home</h1>",
  "app.js": text,
  "noise.txt": noise,
  "img.png": new Uint8Array(randomBytes(300)),
  "docs/index.html": "<h1>docs</h1>",
  "docs/guide.md": "# guide",
  "empty-dir/keep.bin": "x",
  "data.json": '{"a":1}',
  "file.unknownext": "??",
  ".env": "SECRET=1",
  ".git/config": "[core]",
  "sub/.hidden": "hidden",
  "ten.txt": "0123456789",
  "caf\u00e9 1.txt": "unicode name",
});
after(() => tree.cleanup());

const site = new StaticSite({ root: tree.dir, watch: false });
after(() => site.close());

describe("serving files", () => {
  it("serves bytes with type, length, validators and cache-control", async () => {
    const r = await get(site, "/docs/guide.md");
    assert.equal(r.status, 200);
    assert.equal(r.text, "# guide");
    assert.equal(r.headers.get("content-type"), "text/markdown; charset=utf-8");
    assert.equal(r.headers.get("content-length"), "7");
    assert.match(r.headers.get("etag")!, /^"[A-Za-z0-9_-]{22}"$/);
    assert.equal(r.headers.get("last-modified"), new Date(Date.parse(r.headers.get("last-modified")!)).toUTCString());
    assert.equal(r.headers.get("cache-control"), "no-cache");
    assert.equal(r.headers.get("accept-ranges"), "bytes");
  });

  it("gives text types a charset and others none", async () => {
    assert.equal((await get(site, "/app.js")).headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal((await get(site, "/data.json")).headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal((await get(site, "/img.png")).headers.get("content-type"), "image/png");
    assert.equal((await get(site, "/file.unknownext")).headers.get("content-type"), "application/octet-stream");
  });

  it("decodes the path once", async () => {
    const r = await get(site, "/caf%C3%A9%201.txt");
    assert.equal(r.text, "unicode name");
    assert.equal((await get(site, "/caf%25C3%25A9%25201.txt")).status, 404);
  });

  it("accepts an already normalised path without decoding it again", async () => {
    assert.equal((await get(site, "/café 1.txt", {}, "GET", { normalized: true })).text, "unicode name");
  });

  it("ETags differ when content differs and agree when it does not", async () => {
    const a = (await get(site, "/index.html")).headers.get("etag");
    const b = (await get(site, "/docs/index.html")).headers.get("etag");
    assert.notEqual(a, b);
    assert.equal((await get(site, "/docs/")).headers.get("etag"), b);
  });

  it("answers a cached hit synchronously", async () => {
    await site.serve({ method: "GET", path: "/ten.txt", headers: {} });
    const again = site.serve({ method: "GET", path: "/ten.txt", headers: {} });
    assert.ok(!(again instanceof Promise));
  });

  it("serves directories through index.html and redirects them without their slash", async () => {
    assert.equal((await get(site, "/")).text, "<h1>home</h1>");
    assert.equal((await get(site, "/docs/")).text, "<h1>docs</h1>");
    const r = await get(site, "/docs");
    assert.equal(r.status, 301);
    assert.equal(r.headers.get("location"), "/docs/");
    const q = await get(site, "/docs?x=1", {}, "GET", { mount: "/static/", query: "x=1" });
    assert.equal(q.headers.get("location"), "/static/docs/?x=1");
    assert.equal((await get(site, "/docs?a=%20b")).headers.get("location"), "/docs/?a=%20b");
    const top = await get(site, "", {}, "GET", { mount: "/static", normalized: true });
    assert.equal(top.status, 301);
    assert.equal(top.headers.get("location"), "/static/");
    const u = await get(site, "/docs/../empty-dir");
    assert.equal(u.headers.get("location"), "/empty-dir/");
  });

  it("answers 404 for missing files, directories without index and files with a slash", async () => {
    assert.equal((await get(site, "/missing.html")).status, 404);
    assert.equal((await get(site, "/empty-dir/")).status, 404);
    assert.equal((await get(site, "/ten.txt/")).status, 404);
    assert.equal((await get(site, "/ten.txt/x")).status, 404);
  });

  it("hides dotfiles unless allowed", async () => {
    for (const p of ["/.env", "/.git/config", "/sub/.hidden", "/%2eenv", "/.git/"]) {
      assert.equal((await get(site, p)).status, 404, p);
    }
    const open = new StaticSite({ root: tree.dir, watch: false, allowDotfiles: true });
    assert.equal((await get(open, "/.env")).text, "SECRET=1");
    assert.equal((await get(open, "/sub/.hidden")).text, "hidden");
    open.close();
  });

  it("answers HEAD with the headers and no body", async () => {
    const g = await get(site, "/app.js");
    const h = await get(site, "/app.js", {}, "HEAD");
    assert.equal(h.status, 200);
    assert.equal(h.body, null);
    assert.deepEqual([...h.headers], [...g.headers]);
    const missing = await get(site, "/nope", {}, "HEAD");
    assert.equal(missing.status, 404);
    assert.equal(missing.body, null);
  });

  it("answers 405 with Allow for other methods", async () => {
    for (const m of ["POST", "PUT", "DELETE", "OPTIONS", "get"]) {
      const r = await get(site, "/app.js", {}, m);
      assert.equal(r.status, 405);
      assert.equal(r.headers.get("allow"), "GET, HEAD");
    }
  });

  it("answers 400 for malformed paths", async () => {
    for (const p of ["/%zz", "/a%00", "/a\0b", "/%C0%AE%C0%AE/x", "/..%2f", "/a\\b", "nope"]) {
      assert.equal((await get(site, p)).status, 400, p);
    }
  });

  it("sets Cache-Control per site, per path, or not at all", async () => {
    const s1 = new StaticSite({
      root: tree.dir,
      watch: false,
      cacheControl: (p) => (p.endsWith(".js") ? "public, max-age=31536000, immutable" : null),
    });
    assert.equal((await get(s1, "/app.js")).headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal((await get(s1, "/ten.txt")).headers.has("cache-control"), false);
    s1.close();
    const s2 = new StaticSite({ root: tree.dir, watch: false, cacheControl: "max-age=60" });
    assert.equal((await get(s2, "/ten.txt")).headers.get("cache-control"), "max-age=60");
    s2.close();
  });
});

describe("content coding", () => {
  it("keeps brotli and gzip variants of compressible files and negotiates them", async () => {
    const br = await get(site, "/app.js", { "accept-encoding": "gzip, deflate, br" });
    assert.equal(br.headers.get("content-encoding"), "br");
    assert.equal(br.headers.get("vary"), "accept-encoding");
    assert.equal(Number(br.headers.get("content-length")), br.body!.length);
    assert.ok(br.body!.length <= text.length * 0.9);
    assert.equal(new TextDecoder().decode(brotliDecompressSync(br.body!)), text);

    const gz = await get(site, "/app.js", { "accept-encoding": "gzip" });
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    assert.equal(new TextDecoder().decode(gunzipSync(gz.body!)), text);

    const id = await get(site, "/app.js");
    assert.equal(id.headers.has("content-encoding"), false);
    assert.equal(id.headers.get("vary"), "accept-encoding");
    assert.equal(id.text, text);

    const q = await get(site, "/app.js", { "accept-encoding": "br;q=0.2, gzip;q=0.9" });
    assert.equal(q.headers.get("content-encoding"), "gzip");
    const none = await get(site, "/app.js", { "accept-encoding": "br;q=0, gzip;q=0" });
    assert.equal(none.headers.has("content-encoding"), false);

    const tags = new Set([br, gz, id].map((r) => r.headers.get("etag")));
    assert.equal(tags.size, 3, "each coding has its own strong ETag");
  });

  it("keeps no variant when compression saves less than 10%", async () => {
    const r = await get(site, "/noise.txt", { "accept-encoding": "br, gzip" });
    assert.equal(r.headers.has("content-encoding"), false);
    assert.equal(r.headers.has("vary"), false);
    assert.deepEqual(r.body, noise);
    const png = await get(site, "/img.png", { "accept-encoding": "br, gzip" });
    assert.equal(png.headers.has("content-encoding"), false);
  });

  it("can be turned off", async () => {
    const s = new StaticSite({ root: tree.dir, watch: false, compressor: null });
    const r = await get(s, "/app.js", { "accept-encoding": "br" });
    assert.equal(r.headers.has("content-encoding"), false);
    assert.equal(r.headers.has("vary"), false);
    s.close();
  });
});

describe("conditional requests", () => {
  it("answers 304 to a matching If-None-Match", async () => {
    const first = await get(site, "/ten.txt");
    const etag = first.headers.get("etag")!;
    for (const inm of [etag, `W/${etag}`, `"zzz", ${etag}`, "*"]) {
      const r = await get(site, "/ten.txt", { "if-none-match": inm });
      assert.equal(r.status, 304, inm);
      assert.equal(r.body, null);
      assert.equal(r.headers.get("etag"), etag);
      assert.equal(r.headers.get("cache-control"), "no-cache");
      assert.equal(r.headers.has("content-length"), false);
    }
    assert.equal((await get(site, "/ten.txt", { "if-none-match": '"other"' })).status, 200);
  });

  it("matches If-None-Match against the negotiated coding's tag", async () => {
    const br = await get(site, "/app.js", { "accept-encoding": "br" });
    const tag = br.headers.get("etag")!;
    const again = await get(site, "/app.js", { "accept-encoding": "br", "if-none-match": tag });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("vary"), "accept-encoding");
    assert.equal((await get(site, "/app.js", { "if-none-match": tag })).status, 200);
  });

  it("answers 304 to If-Modified-Since not older than the file, ignored when If-None-Match is there", async () => {
    const lm = (await get(site, "/ten.txt")).headers.get("last-modified")!;
    assert.equal((await get(site, "/ten.txt", { "if-modified-since": lm })).status, 304);
    const later = new Date(Date.parse(lm) + 3600_000).toUTCString();
    assert.equal((await get(site, "/ten.txt", { "if-modified-since": later })).status, 304);
    const earlier = new Date(Date.parse(lm) - 1000).toUTCString();
    assert.equal((await get(site, "/ten.txt", { "if-modified-since": earlier })).status, 200);
    assert.equal((await get(site, "/ten.txt", { "if-modified-since": "garbage" })).status, 200);
    assert.equal((await get(site, "/ten.txt", { "if-modified-since": lm, "if-none-match": '"x"' })).status, 200);
  });

  it("works with HEAD and a Headers object", async () => {
    const etag = (await get(site, "/ten.txt")).headers.get("etag")!;
    const r = await get(site, "/ten.txt", new Headers({ "If-None-Match": etag }), "HEAD");
    assert.equal(r.status, 304);
  });
});

describe("ranges", () => {
  it("answers one byte range with 206 and Content-Range", async () => {
    const r = await get(site, "/ten.txt", { range: "bytes=2-4" });
    assert.equal(r.status, 206);
    assert.equal(r.text, "234");
    assert.equal(r.headers.get("content-range"), "bytes 2-4/10");
    assert.equal(r.headers.get("content-length"), "3");
    assert.equal((await get(site, "/ten.txt", { range: "bytes=-3" })).text, "789");
    assert.equal((await get(site, "/ten.txt", { range: "bytes=7-" })).text, "789");
  });

  it("answers 416 to an unsatisfiable range", async () => {
    const r = await get(site, "/ten.txt", { range: "bytes=10-" });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get("content-range"), "bytes */10");
    assert.equal(r.body, null);
  });

  it("sends everything for several ranges, a malformed range, or HEAD", async () => {
    assert.equal((await get(site, "/ten.txt", { range: "bytes=0-1,4-5" })).status, 200);
    assert.equal((await get(site, "/ten.txt", { range: "bytes=x-" })).status, 200);
    assert.equal((await get(site, "/ten.txt", { range: "bytes=0-1" }, "HEAD")).status, 200);
  });

  it("honours If-Range with the entity tag or the date", async () => {
    const full = await get(site, "/ten.txt");
    const etag = full.headers.get("etag")!;
    const lm = full.headers.get("last-modified")!;
    assert.equal((await get(site, "/ten.txt", { range: "bytes=0-0", "if-range": etag })).status, 206);
    assert.equal((await get(site, "/ten.txt", { range: "bytes=0-0", "if-range": lm })).status, 206);
    const stale = await get(site, "/ten.txt", { range: "bytes=0-0", "if-range": '"old"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.text, "0123456789");
    assert.equal((await get(site, "/ten.txt", { range: "bytes=0-0", "if-range": `W/${etag}` })).status, 200);
    const old = new Date(Date.parse(lm) - 5000).toUTCString();
    assert.equal((await get(site, "/ten.txt", { range: "bytes=0-0", "if-range": old })).status, 200);
  });

  it("ranges the identity bytes even when the client accepts br", async () => {
    const r = await get(site, "/app.js", { range: "bytes=0-4", "accept-encoding": "br" });
    assert.equal(r.status, 206);
    assert.equal(r.text, text.slice(0, 5));
    assert.equal(r.headers.has("content-encoding"), false);
  });
});

describe("large files and memory", () => {
  const big = new Uint8Array(randomBytes(200_000));
  const t = tempTree({
    "big.bin": big,
    "a.txt": "a".repeat(1000),
    "b.txt": "b".repeat(1000),
    "c.txt": "c".repeat(1000),
  });
  after(() => t.cleanup());

  it("streams files above maxCachedFileSize from disk, ranges included", async () => {
    const fs = countingFs();
    const s = new StaticSite({ root: t.dir, watch: false, fs, maxCachedFileSize: 64 * 1024 });
    const r = await get(s, "/big.bin");
    assert.equal(r.status, 200);
    assert.ok(r.streamed);
    assert.deepEqual(r.body, big);
    assert.equal(r.headers.get("content-length"), String(big.length));
    assert.equal(fs.reads, 0);
    const part = await get(s, "/big.bin", { range: "bytes=100000-100009" });
    assert.equal(part.status, 206);
    assert.ok(part.streamed);
    assert.deepEqual(part.body, big.subarray(100000, 100010));
    const etag = r.headers.get("etag")!;
    assert.equal((await get(s, "/big.bin", { "if-none-match": etag })).status, 304);
    assert.ok(s.cachedBytes < 1024);
    s.close();
  });

  it("reads a streamed body only as it is pulled, and closes the file when abandoned", async () => {
    const s = new StaticSite({ root: t.dir, watch: false, maxCachedFileSize: 1024 });
    const res = await s.serve({ method: "GET", path: "/big.bin", headers: {} });
    const it = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    assert.equal(first.value!.length, 64 * 1024);
    await it.return?.();
    assert.equal((await it.next()).done, true);
    s.close();
  });

  it("bounds the cache and evicts the least recently used file", async () => {
    const fs = countingFs();
    // Each text file costs 1000 bytes + 256 of bookkeeping; room for two.
    const s = new StaticSite({ root: t.dir, watch: false, fs, compressor: null, maxCacheBytes: 2600 });
    await get(s, "/a.txt");
    await get(s, "/b.txt");
    await get(s, "/a.txt"); // a is now more recent than b
    assert.equal(fs.reads, 2);
    await get(s, "/c.txt"); // evicts b
    assert.equal(s.cachedFiles, 2);
    assert.ok(s.cachedBytes <= 2600);
    await get(s, "/a.txt");
    await get(s, "/c.txt");
    assert.equal(fs.reads, 3, "a and c stayed");
    assert.equal((await get(s, "/b.txt")).text, "b".repeat(1000));
    assert.equal(fs.reads, 4, "b was reloaded");
    s.close();
  });

  it("serves but does not keep a file larger than the whole cache", async () => {
    const s = new StaticSite({ root: t.dir, watch: false, compressor: null, maxCacheBytes: 500 });
    assert.equal((await get(s, "/a.txt")).text, "a".repeat(1000));
    assert.equal(s.cachedBytes, 0);
    s.close();
  });

  it("preloads everything on request", async () => {
    const fs = countingFs();
    const s = new StaticSite({ root: tree.dir, watch: false, fs });
    await s.preload();
    const reads = fs.reads;
    assert.ok(reads >= 10);
    await get(s, "/app.js");
    await get(s, "/docs/guide.md");
    assert.equal(fs.reads, reads);
    assert.equal((await get(s, "/.env")).status, 404);
    s.close();
  });
});
