/**
 * Lookups/s of Router.match (host + path) and normalizePath, beside a
 * brute-force peer measured in the same run (every pattern tried in turn, the
 * way a list of regular expressions routes). Run on one runtime with
 * `node --import tsx bench/router.bench.ts`, `deno run -A …`, `bun …`, or on
 * all three with `npm run bench -w @wirehouse/router`.
 */
import { normalizePath, Router } from "../src/index.ts";

declare const Deno: { version: { deno: string } } | undefined;
declare const Bun: { version: string } | undefined;
const runtime =
  typeof Deno !== "undefined"
    ? `deno ${Deno.version.deno}`
    : typeof Bun !== "undefined"
      ? `bun ${Bun.version}`
      : `node ${(globalThis as { process?: { version: string } }).process?.version}`;

const patterns: string[] = ["/", "/static/*", "/chat/:room", "/api/v1/users/:id", "/api/v1/users/:id/files/*"];
for (let i = 0; i < 60; i++) patterns.push(`/section${i}/page`, `/section${i}/:slug`);
const router = new Router<string>([
  { hosts: ["example.com", "www.example.com"], routes: patterns.map((p) => ({ path: p, kind: p })) },
  { hosts: ["*.example.org"], routes: [{ path: "/*", kind: "org" }] },
  { default: true, fallback: { kind: "default" } },
]);

const regexes = patterns.map((p) => ({
  kind: p,
  re: new RegExp(
    "^" +
      p
        .replace(/\/\*$/, "(/.*)?")
        .replace(/:[A-Za-z_]+/g, "([^/]+)")
        .replace(/\//g, "\\/") +
      "$",
  ),
}));
const peer = (path: string) => {
  for (const r of regexes) {
    const m = r.re.exec(path);
    if (m !== null) return r.kind;
  }
  return null;
};

const requests: [string, string][] = [
  ["example.com:8080", "/static/css/site.css"],
  ["www.example.com", "/chat/lobby"],
  ["example.com", "/section42/page"],
  ["example.com", "/api/v1/users/17/files/a/b.txt"],
  ["a.example.org", "/anything"],
];

function rate(fn: () => void, ms: number): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    now = performance.now();
  }
  return (n / (now - start)) * 1000;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => Math.round(x).toLocaleString("en-US").padStart(12);

let k = 0;
let sink = 0;
const ours = () => {
  const [h, p] = requests[k++ % requests.length]!;
  sink += router.match(h, p) === null ? 0 : 1;
};
const brute = () => {
  const [, p] = requests[k++ % requests.length]!;
  sink += peer(p) === null ? 0 : 1;
};
const norm = () => {
  const [, p] = requests[k++ % requests.length]!;
  sink += (normalizePath(p) as string).length;
};
const normDirty = () => {
  sink += (normalizePath("/a/./b/../static/%63ss/site.css?x=1") as string).length;
};

console.log(`\n@wirehouse/router bench on ${runtime}, ${patterns.length} routes (median of 5 × 300 ms)`);
for (const [name, fn, peerFn] of [
  ["match(host, path)", ours, brute],
  ["normalizePath (clean path)", norm, null],
  ["normalizePath (dots, escapes, query)", normDirty, null],
] as const) {
  rate(fn, 200);
  if (peerFn) rate(peerFn, 200);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 5; i++) {
    a.push(rate(fn, 300));
    if (peerFn) b.push(rate(peerFn, 300));
  }
  const line = `${name.padEnd(38)} ${fmt(median(a))}/s`;
  console.log(peerFn ? `${line}   regex list (path only): ${fmt(median(b))}/s` : line);
}
if (sink === 42) console.log("");
