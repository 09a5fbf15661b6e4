/**
 * Raw TCP echo: @wirehouse/transport's adapter against the plainest echo of
 * the same runtime, measured in the same run.
 *
 *   npx bun bench/echo.ts              Bun adapter vs Bun.listen echo
 *   npx deno run -A bench/echo.ts      Deno adapter vs Deno.listen echo
 *   node --import tsx bench/echo.ts    Node adapter vs node:net socket.pipe(socket)
 *   npm run bench -w @wirehouse/transport   all three (--runtimes node,bun,deno)
 *
 * Options: --runtimes a,b  --rounds N (default 3)  --seconds S (default 3)
 *          --connections N (default 100)  --sizes 32,16384
 *          --together  run the plain and the adapter server at the same time,
 *                      both on the server core (each with its own load
 *                      generator on the other): on a shared, noisy machine
 *                      both then suffer the same interference, so their
 *                      ratio is steadier than that of runs one after the other
 *
 * Each server runs in its own process pinned to core 0 and the load
 * generator (bench/load.ts on Bun, the leanest client available) in another
 * pinned to core 1 (taskset, when present). 100 connections each keep one
 * message in flight. Prints messages/s, MB/s (one way) and adapter/plain,
 * and the server's CPU time per message (user + system, from
 * process.cpuUsage): on a shared, noisy machine CPU per message is the
 * steadier figure, since throughput also depends on what else runs.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtime } from "../src/runtime.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const bin = (n: string) => join(root, "node_modules", ".bin", n);

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const runtimes = opt("runtimes", runtime).split(",");
const rounds = Number(opt("rounds", "3"));
const seconds = Number(opt("seconds", "3"));
const connections = Number(opt("connections", "100"));
const sizes = opt("sizes", "32,16384").split(",").map(Number);
/** Both servers at once on the server core (see measureTogether); default: one after the other. */
const together = argv.includes("--together");
/** The two echo servers compared (echo-server.ts kinds), baseline first. */
const [KA, KB] = opt("kinds", "plain,adapter").split(",") as [string, string];

const pin = spawnSync("taskset", ["-V"]).status === 0 && cpus().length >= 2;
const nodeBin = runtime === "node" ? process.execPath : "node";
const bunBin = existsSync(bin("bun")) ? bin("bun") : "bun";
const denoBin = existsSync(bin("deno")) ? bin("deno") : "deno";

function serverCommand(rt: string, kind: string): string[] {
  const file = join(here, "echo-server.ts");
  if (rt === "node") return [nodeBin, "--import", "tsx", file, kind];
  if (rt === "bun") return [bunBin, file, kind];
  return [denoBin, "run", "-A", file, kind];
}

function run(cmd: string[], core: number): ChildProcess {
  const full = pin ? ["taskset", "-c", String(core), ...cmd] : cmd;
  return spawn(full[0]!, full.slice(1), { stdio: ["pipe", "pipe", "inherit"], cwd: root });
}

function firstLine(child: ChildProcess, match: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = out.match(match);
      if (m) resolve(m[0]);
    });
    // "close", not "exit": the last output may still be in the pipe when the process exits.
    child.on("close", (code) => reject(new Error(`exited with ${code} before printing ${match}: ${out}`)));
  });
}

function nextLine(child: ChildProcess, match: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    const on = (d: unknown) => {
      out += String(d);
      const m = out.match(match);
      if (m) {
        child.stdout!.off("data", on);
        resolve(m[0]);
      }
    };
    child.stdout!.on("data", on);
  });
}

/** Messages/s seen by the client, and the server's CPU time (user + system) per message in µs. */
async function measure(rt: string, kind: string, size: number): Promise<{ rate: number; cpu: number }> {
  return (await measureTogether(rt, [kind], size))[0]!;
}

/**
 * Runs one server per kind at the same time (all on core 0, their load
 * generators on core 1), so whatever else the machine is doing slows them
 * alike: the ratio of their rates is then the ratio of their efficiency.
 */
async function measureTogether(rt: string, kinds: string[], size: number): Promise<{ rate: number; cpu: number }[]> {
  const servers = kinds.map((kind) => run(serverCommand(rt, kind), 0));
  try {
    const started = await Promise.all(
      servers.map(async (server) => (await firstLine(server, /port (\d+) cpu (\d+)/)).match(/port (\d+) cpu (\d+)/)!),
    );
    const results = await Promise.all(
      started.map(async ([, port]) => {
        const client = run(
          [bunBin, join(here, "load.ts"), port!, String(connections), String(size), "1", String(seconds)],
          1,
        );
        return JSON.parse(await firstLine(client, /\{.*\}/)) as { rate: number; total: number };
      }),
    );
    return await Promise.all(
      servers.map(async (server, i) => {
        const stats = nextLine(server, /cpu \d+\n/);
        server.stdin!.write("stats\n");
        const cpu1 = Number((await stats).slice(4));
        return { rate: results[i]!.rate, cpu: (cpu1 - Number(started[i]![2])) / results[i]!.total };
      }),
    );
  } finally {
    for (const server of servers) {
      server.stdin!.end();
      server.kill();
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

const plainName: Record<string, string> = {
  node: "node:net socket.pipe(socket)",
  bun: "Bun.listen echo",
  deno: "Deno.listen echo",
};

console.log(
  `raw TCP echo, ${connections} connections, 1 message in flight each, ${rounds} rounds x ${seconds} s, median` +
    (pin ? ", server on core 0, load generator (Bun) on core 1" : ", not pinned (no taskset)") +
    (together ? ", plain and adapter servers running at the same time (sharing the server core)" : ""),
);
for (const rt of runtimes) {
  console.log(`\n${rt}: adapter vs ${plainName[rt]}`);
  console.log(
    "| message | plain msg/s | adapter msg/s | plain MB/s | adapter MB/s | msg/s adapter/plain, median of rounds (range) | server CPU µs/msg plain | adapter | CPU adapter/plain (range) |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const size of sizes) {
    const plain: number[] = [];
    const adapter: number[] = [];
    const plainCpu: number[] = [];
    const adapterCpu: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (together) {
        const [p, a] = await measureTogether(rt, [KA, KB], size);
        plain.push(p!.rate);
        adapter.push(a!.rate);
        plainCpu.push(p!.cpu);
        adapterCpu.push(a!.cpu);
        continue;
      }
      // Alternate the order so drift on a noisy machine does not favour one side.
      const order = r % 2 === 0 ? [KA, KB] : [KB, KA];
      for (const kind of order) {
        const m = await measure(rt, kind, size);
        (kind === KA ? plain : adapter).push(m.rate);
        (kind === KA ? plainCpu : adapterCpu).push(m.cpu);
      }
    }
    const p = median(plain);
    const a = median(adapter);
    const pc = median(plainCpu);
    const ac = median(adapterCpu);
    // Ratios of the two runs of each round (measured back to back), so slow drift cancels out.
    const rate = plain.map((x, i) => adapter[i]! / x);
    const cpu = plainCpu.map((x, i) => adapterCpu[i]! / x);
    const range = (xs: number[]) =>
      `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    console.log(
      `| ${size} B | ${fmt(p)} | ${fmt(a)} | ${((p * size) / 1e6).toFixed(1)} | ${((a * size) / 1e6).toFixed(1)} | ${range(rate)} | ${pc.toFixed(1)} | ${ac.toFixed(1)} | ${range(cpu)} |`,
    );
  }
}
