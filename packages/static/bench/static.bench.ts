/**
 * In-process responses/s of a StaticSite (no sockets): a cached 4 KiB file as
 * identity and as brotli, and 304 revalidations, beside a naive peer measured
 * in the same run (a Map of prebuilt bodies with headers built per request,
 * the floor any cache pays). Run on one runtime:
 *   node --import tsx bench/static.bench.ts | deno run -A bench/static.bench.ts | bun bench/static.bench.ts
 * or on all three with `npm run bench -w @wirehouse/static`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StaticRequest, type StaticResponse, StaticSite } from "../src/index.ts";

declare const Deno: { version: { deno: string } } | undefined;
declare const Bun: { version: string } | undefined;
const runtime =
  typeof Deno !== "undefined"
    ? `deno ${Deno.version.deno}`
    : typeof Bun !== "undefined"
      ? `bun ${Bun.version}`
      : `node ${process.version}`;

// 4 KiB of HTML-like text that compresses the way real pages do.
const words = "the quick brown fox jumps over lazy dog wirehouse static cache brotli gzip etag range".split(" ");
let seed = 7;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed;
};
let html = "<!doctype html><html><head><title>bench</title></head><body>\n";
while (html.length < 4096 - 20)
  html += `<p class="c${rand() % 9}">${words[rand() % words.length]} ${rand() % 1000}</p>\n`;
html = (html + "</body></html>\n".padEnd(4096 - html.length, " ")).slice(0, 4096);

const dir = mkdtempSync(join(tmpdir(), "wirehouse-bench-"));
writeFileSync(join(dir, "page.html"), html);
const site = new StaticSite({ root: dir, watch: false, revalidateMs: 60_000 });

type Handler = (req: StaticRequest) => StaticResponse | Promise<StaticResponse>;

// The peer: what a minimal hand-written cache does per request.
const body = new TextEncoder().encode(html);
const { brotliCompressSync } = await import("node:zlib");
const brBody = new Uint8Array(brotliCompressSync(body));
const naiveMap = new Map([["/page.html", { body, brBody, etag: '"naive-1"', type: "text/html; charset=utf-8" }]]);
const naive: Handler = (req) => {
  const e = naiveMap.get(req.path);
  const h = req.headers as Record<string, string | undefined>;
  if (e === undefined) return { status: 404, headers: [], body: null };
  if (h["if-none-match"] === e.etag) return { status: 304, headers: [["etag", e.etag]], body: null };
  const br = (h["accept-encoding"] ?? "").includes("br");
  const b = br ? e.brBody : e.body;
  const headers: [string, string][] = [
    ["content-type", e.type],
    ["content-length", String(b.length)],
    ["etag", e.etag],
  ];
  if (br) headers.push(["content-encoding", "br"]);
  return { status: 200, headers, body: b };
};

const first = await site.serve({ method: "GET", path: "/page.html", headers: {} });
const etag = first.headers.find(([k]) => k === "etag")![1];
const brFirst = await site.serve({
  method: "GET",
  path: "/page.html",
  headers: { "accept-encoding": "gzip, deflate, br, zstd" },
});
const brTag = brFirst.headers.find(([k]) => k === "etag")![1];

const cases: { name: string; req: StaticRequest; expect: number; naiveReq: StaticRequest }[] = [
  {
    name: "cached 4 KiB, identity",
    req: { method: "GET", path: "/page.html", headers: {} },
    naiveReq: { method: "GET", path: "/page.html", headers: {} },
    expect: 200,
  },
  {
    name: "cached 4 KiB, brotli",
    req: { method: "GET", path: "/page.html", headers: { "accept-encoding": "gzip, deflate, br, zstd" } },
    naiveReq: { method: "GET", path: "/page.html", headers: { "accept-encoding": "gzip, deflate, br, zstd" } },
    expect: 200,
  },
  {
    name: "304 revalidation (If-None-Match)",
    req: {
      method: "GET",
      path: "/page.html",
      headers: { "accept-encoding": "gzip, deflate, br, zstd", "if-none-match": brTag },
    },
    naiveReq: { method: "GET", path: "/page.html", headers: { "if-none-match": '"naive-1"' } },
    expect: 304,
  },
];
void etag;

async function measure(handler: Handler, req: StaticRequest, expect: number, ms: number): Promise<number> {
  let n = 0;
  let sink = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 1000; i++) {
      let r = handler(req);
      if (r instanceof Promise) r = await r;
      sink += r.status;
    }
    n += 1000;
    now = performance.now();
  }
  if (sink !== n * expect) throw new Error(`unexpected status (wanted ${expect})`);
  return (n / (now - start)) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => Math.round(x).toLocaleString("en-US").padStart(12);

console.log(`\n@wirehouse/static in-process bench on ${runtime} (median of 5 × 400 ms)`);
console.log(`${"case".padEnd(36)} ${"StaticSite/s".padStart(12)} ${"naive Map/s".padStart(12)}  ratio`);
for (const c of cases) {
  await measure(site.serve.bind(site), c.req, c.expect, 200); // warm-up
  await measure(naive, c.naiveReq, c.expect, 200);
  const ours: number[] = [];
  const peer: number[] = [];
  for (let round = 0; round < 5; round++) {
    ours.push(await measure(site.serve.bind(site), c.req, c.expect, 400));
    peer.push(await measure(naive, c.naiveReq, c.expect, 400));
  }
  const o = median(ours);
  const p = median(peer);
  console.log(`${c.name.padEnd(36)} ${fmt(o)} ${fmt(p)}  ${(o / p).toFixed(2)}×`);
}
site.close();
rmSync(dir, { recursive: true, force: true });
