/**
 * Benchmarks of @wirehouse/sandbox, each next to a peer measured in the same run:
 *   1. page renders/s with a fresh QuickJS context per render vs EJS rendering the same page;
 *   2. websocket-script echo messages/s through the worker and its batching.
 * Run: npm run bench -w @wirehouse/sandbox [-- --seconds 3] [--only pages|ws]
 */
import ejs from "ejs";
import { MemoryFiles, PageEngine, WebsocketScriptHost } from "../src/index.ts";
import { loadQuickJS } from "../src/quickjs.ts";
import { ScriptEngine } from "../src/ws-engine.ts";
import { EJS, SJS } from "./page.ts";

const secondsArg = process.argv.indexOf("--seconds");
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;

/** Warm-up per contender: WebAssembly code is tiered up (Liftoff → TurboFan) in the background over the first seconds. */
const WARM_MS = 2000;

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** CPU time of this process in µs (user + system). */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Counts calls of each contender in short alternating rounds and reports the
 * best and the median round, and the median CPU time per call: these
 * machines are shared, and alternating rounds expose both contenders to the
 * same background load (CPU time per call is the figure least moved by it).
 * Returns [median, best, median CPU µs per call] per contender.
 */
async function compare(contenders: [string, () => unknown | Promise<unknown>][]): Promise<number[]> {
  const rounds = Math.max(4, Math.round((SECONDS * 1000) / 250));
  const rates: number[][] = contenders.map(() => []);
  const cpus: number[][] = contenders.map(() => []);
  for (const [, fn] of contenders) {
    const warm = performance.now() + WARM_MS;
    while (performance.now() < warm) await fn();
  }
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const fn = contenders[c]![1];
      let n = 0;
      const start = performance.now();
      const cpu = cpuMicros();
      const end = start + 250 / contenders.length;
      while (performance.now() < end) {
        for (let i = 0; i < 10; i++) await fn();
        n += 10;
      }
      rates[c]!.push((n / (performance.now() - start)) * 1000);
      cpus[c]!.push((cpuMicros() - cpu) / n);
    }
  }
  const out: number[] = [];
  contenders.forEach(([label], c) => {
    const sorted = rates[c]!.sort((a, b) => a - b);
    const best = sorted[sorted.length - 1]!;
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const cpu = cpus[c]!.sort((a, b) => a - b)[Math.floor(sorted.length / 2)]!;
    console.log(
      `  ${label.padEnd(44)} best ${fmt(best).padStart(8)} /s (${(1e6 / best).toFixed(0).padStart(5)} µs)   median ${fmt(median).padStart(8)} /s   ${cpu.toFixed(0).padStart(4)} µs CPU`,
    );
    out.push(median, best, cpu);
  });
  return out;
}

async function pages(): Promise<void> {
  console.log(`page renders (20-item loop, ${SECONDS} s in alternating rounds, one core)`);
  const engine = await PageEngine.create({ files: new MemoryFiles({ "/shop.sjs": SJS }), revalidateMs: 1000 });
  const request = { method: "GET", url: "/shop.sjs?x=1", headers: { host: "localhost", "user-agent": "bench" } };
  const template = ejs.compile(EJS);
  const encoder = new TextEncoder();
  const a = await engine.render("/shop.sjs", request);
  const b = template({ request: { path: "/shop.sjs" } });
  const sa = new TextDecoder().decode(a.body);
  if (sa !== b) throw new Error(`the two pages differ:\n${sa}\n---\n${b}`);
  const [sMedian, sBest, sCpu, eMedian, eBest, eCpu] = await compare([
    ["sandbox (fresh QuickJS context per render)", () => engine.render("/shop.sjs", request)],
    ["EJS 3 (compiled once, same page)", () => encoder.encode(template({ request: { path: "/shop.sjs" } }))],
  ]);
  console.log(
    `  sandbox / EJS: ${((sMedian! / eMedian!) * 100).toFixed(1)}% (medians), ${((sBest! / eBest!) * 100).toFixed(1)}% (best rounds), ` +
      `${((eCpu! / sCpu!) * 100).toFixed(1)}% (CPU time per render)`,
  );
  engine.dispose();
}

async function echo(clients: number): Promise<void> {
  let count = 0;
  let host: WebsocketScriptHost | undefined;
  let running = true;
  host = new WebsocketScriptHost({
    file: "/echo.js",
    source: "function onMessage(client, data) { client.send(data) }",
    onSend: (id, data) => {
      count++;
      if (running) host!.message(id, data as string);
    },
    onClose: () => {},
  });
  await host.ready;
  for (let id = 1; id <= clients; id++) host.connect({ id });
  const payload = "x".repeat(32);
  for (let id = 1; id <= clients; id++) host.message(id, payload);
  await new Promise((r) => setTimeout(r, 300));
  const c0 = count;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const rate = ((count - c0) / (performance.now() - t0)) * 1000;
  running = false;
  await host.terminate();
  console.log(
    `  ${`${clients} client(s), one 32 B message in flight each`.padEnd(44)} ${fmt(rate).padStart(10)} msgs/s`,
  );
}

async function sameThreadEcho(clients: number): Promise<void> {
  // The peer: the same script in the same engine on this thread, no worker and
  // no postMessage; the difference is the cost of the thread hop and batching.
  const engine = new ScriptEngine(await loadQuickJS(), "/echo.js", {}, [], () => {});
  engine.load("function onMessage(client, data) { client.send(data) }");
  engine.dispatch(JSON.stringify(Array.from({ length: clients }, (_, i) => ["c", i + 1, "{}"])));
  const batch = JSON.stringify(Array.from({ length: clients }, (_, i) => ["m", i + 1, "x".repeat(32)]));
  let count = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  while (performance.now() < end) {
    engine.dispatch(batch);
    engine.take();
    count += clients;
    if (count % (clients * 20) === 0) await new Promise((r) => setTimeout(r, 0));
  }
  const rate = (count / (performance.now() - t0)) * 1000;
  console.log(
    `  ${`same script on the host thread, batches of ${clients}`.padEnd(44)} ${fmt(rate).padStart(10)} msgs/s`,
  );
}

const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
const runtime = g.Bun
  ? `bun ${g.Bun.version}`
  : g.Deno
    ? `deno ${g.Deno.version.deno}`
    : `node ${process.versions.node}`;
console.log(`runtime: ${runtime}`);
const onlyArg = process.argv.indexOf("--only");
const only = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
if (only !== "ws") await pages();
if (only === "pages") process.exit(0);
console.log(`websocket-script echo through the worker (${SECONDS} s each, no sockets)`);
await echo(1);
await echo(100);
await sameThreadEcho(100);
