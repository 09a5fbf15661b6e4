/**
 * The page benchmark: autocannon (100 connections, 10 s by default)
 * against a node:http server rendering a 20-item page with PageEngine (a fresh
 * QuickJS context per request) and against the same page rendered by EJS in a
 * plain node:http server, alternating in one run. Each server runs alone,
 * pinned to core 0 with `taskset` when it exists; run this file itself on
 * another core:
 *   taskset -c 1 node --import tsx bench/http.ts [--seconds 10] [--rounds 3] [--runtime node|bun|deno]
 * `--runtime` picks the runtime of the sandbox server (the EJS server is always Node).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const SECONDS = Number(arg("seconds", "10"));
const ROUNDS = Number(arg("rounds", "3"));
const RUNTIME = arg("runtime", "node");
const CONNECTIONS = Number(arg("connections", "100"));

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const server = join(here, "http-server.ts");
const pin = spawnSync("taskset", ["-c", "0", "true"]).status === 0 ? ["taskset", "-c", "0"] : [];

function command(mode: string): string[] {
  const runtime = mode === "ejs" ? "node" : RUNTIME;
  if (runtime === "node") return ["node", "--import", "tsx", server, mode];
  if (runtime === "bun") return [join(root, "node_modules", ".bin", "bun"), server, mode];
  if (runtime === "deno") return [join(root, "node_modules", ".bin", "deno"), "run", "-A", server, mode];
  throw new Error(`unknown runtime ${runtime}`);
}

async function start(mode: string): Promise<[ChildProcess, number]> {
  const [cmd, ...args] = [...pin, ...command(mode)];
  const child = spawn(cmd!, args, { cwd: join(here, ".."), stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
  return [child, Number(line)];
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill(), 3000);
  await exited;
  clearTimeout(timer);
}

async function measure(mode: string): Promise<number> {
  const [child, port] = await start(mode);
  try {
    const url = `http://127.0.0.1:${port}/shop.sjs?x=1`;
    await autocannon({ url, connections: CONNECTIONS, duration: 2 }); // warm-up (JIT, WebAssembly tiers)
    const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
    if (r.errors || r.non2xx || r.timeouts) throw new Error(`${mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    return r.requests.average;
  } finally {
    await stop(child);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

console.log(
  `page via HTTP: autocannon ${CONNECTIONS} connections, ${SECONDS} s, ${ROUNDS} rounds; ` +
    `server ${pin.length ? "pinned to core 0" : "not pinned"}; sandbox on ${RUNTIME}, EJS on node`,
);
const ours: number[] = [];
const theirs: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const s = await measure("sandbox");
  const e = await measure("ejs");
  ours.push(s);
  theirs.push(e);
  console.log(
    `  round ${round}: sandbox ${fmt(s).padStart(7)} req/s   EJS ${fmt(e).padStart(7)} req/s   ${((s / e) * 100).toFixed(1)}%`,
  );
}
const ratios = ours.map((s, i) => s / theirs[i]!);
console.log(
  `  median: sandbox ${fmt(median(ours))} req/s, EJS ${fmt(median(theirs))} req/s, ratio ${(median(ratios) * 100).toFixed(1)}% (median of per-round ratios)`,
);
