/**
 * The page benchmark: autocannon (100 connections, 10 s by default)
 * against a node:http server rendering a 20-item page with PageEngine (a fresh
 * QuickJS context per request) and against the same page rendered by EJS in a
 * plain node:http server, alternating in one run. Each server runs alone,
 * pinned to core 0 with `taskset` when it exists; run this file itself on
 * another core:
 *   taskset -c 1 node --import tsx bench/http.ts [--seconds 10] [--rounds 3] [--warmup 5] [--runtime node|bun|deno]
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
/** Load before measuring: WebAssembly code is tiered up (Liftoff → TurboFan) in the background over the first seconds. */
const WARMUP = Number(arg("warmup", "5"));

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

interface Server {
  child: ChildProcess;
  port: number;
  /** The server process's CPU time so far, in µs. */
  cpu(): Promise<number>;
}

async function start(mode: string): Promise<Server> {
  const [cmd, ...args] = [...pin, ...command(mode)];
  const child = spawn(cmd!, args, { cwd: join(here, ".."), stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)));
    });
  const port = Number(await next());
  return {
    child,
    port,
    cpu: () => {
      const line = next();
      child.stdin!.write("cpu\n");
      return line.then(Number);
    },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.stdin!.end();
  const timer = setTimeout(() => child.kill(), 3000);
  await exited;
  clearTimeout(timer);
}

/** Requests/s and the server's CPU time per request (µs). */
async function measure(mode: string): Promise<[number, number]> {
  const server = await start(mode);
  try {
    const url = `http://127.0.0.1:${server.port}/shop.sjs?x=1`;
    await autocannon({ url, connections: CONNECTIONS, duration: WARMUP });
    const cpu0 = await server.cpu();
    const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
    const cpu = (await server.cpu()) - cpu0;
    if (r.errors || r.non2xx || r.timeouts) throw new Error(`${mode}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    return [r.requests.average, cpu / r.requests.total];
  } finally {
    await stop(server.child);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

console.log(
  `page via HTTP: autocannon ${CONNECTIONS} connections, ${SECONDS} s after ${WARMUP} s of warm-up, ${ROUNDS} rounds; ` +
    `server ${pin.length ? "pinned to core 0" : "not pinned"}; sandbox on ${RUNTIME}, EJS on node`,
);
const ours: number[] = [];
const theirs: number[] = [];
const ourCpu: number[] = [];
const theirCpu: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const [s, sc] = await measure("sandbox");
  const [e, ec] = await measure("ejs");
  ours.push(s);
  theirs.push(e);
  ourCpu.push(sc);
  theirCpu.push(ec);
  console.log(
    `  round ${round}: sandbox ${fmt(s).padStart(6)} req/s (${fmt(sc)} µs CPU/req)   ` +
      `EJS ${fmt(e).padStart(6)} req/s (${fmt(ec)} µs CPU/req)   ${((s / e) * 100).toFixed(1)}%`,
  );
}
const ratios = ours.map((s, i) => s / theirs[i]!);
const cpuRatios = ourCpu.map((s, i) => theirCpu[i]! / s);
console.log(
  `  median: sandbox ${fmt(median(ours))} req/s, EJS ${fmt(median(theirs))} req/s, ratio ${(median(ratios) * 100).toFixed(1)}% ` +
    `(median of per-round ratios); server CPU per request: sandbox ${fmt(median(ourCpu))} µs, EJS ${fmt(median(theirCpu))} µs, ` +
    `ratio ${(median(cpuRatios) * 100).toFixed(1)}%`,
);
