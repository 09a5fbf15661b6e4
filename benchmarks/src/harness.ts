/**
 * @module
 * The benchmark harness: starts each server (pinned to the server core),
 * runs the load (pinned to the load core), repeats, and writes
 * results/<date>-<host>.json, the table in README.md and the SVG charts.
 *
 *   npm run bench -w @wirehouse/benchmarks              # quick suite
 *   npm run bench:full -w @wirehouse/benchmarks         # full suite
 *   node --import tsx src/harness.ts --only echo-32 --servers ws-node,bun-ws --repeats 1
 *   node --import tsx src/harness.ts --render results/2026-11-23-host.json   # tables and charts only
 *
 * Loopback only, bounded (the suite's time limit), stops by itself.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { availableParallelism, cpus, hostname, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./args.ts";
import { type Fixture, type FixtureName, startFixture } from "./fixtures.ts";
import { hasCommand, runHttpLoad } from "./httpload.ts";
import { readCpuSeconds, runLoad } from "./loadgen.ts";
import { writeNginxPhpSite, writeNginxSite } from "./nginx.ts";
import {
  formatNumber,
  type Results,
  renderTable,
  replaceBetweenMarkers,
  type ScenarioResult,
  type ServerRuns,
} from "./results.ts";
import { repoRoot, type ServerSpec, serverCommand, serverTable, unavailable } from "./servers.ts";
import { spread } from "./stats.ts";
import { type ScenarioSpec, suite, targets } from "./suite.ts";
import { chartName, renderChart } from "./svg.ts";

const benchDir = join(repoRoot, "benchmarks");

/** A free TCP port on 127.0.0.1 (bound and released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.on("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

export interface RunningServer {
  /** The first instance's pid and port (most servers have one). */
  pid: number;
  port: number;
  /** Every instance's pid and port (several for `instances`). */
  pids: number[];
  ports: number[];
  stop(): Promise<void>;
}

/** Starts one process of a server pinned to `cpu` and waits until it accepts connections (its ready line or a TCP connect). */
async function startInstance(
  spec: ServerSpec,
  cpu: string | undefined,
  vars: Record<string, string>,
): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  let tmp: string | undefined;
  let nginxConf: string | undefined;
  if (spec.script === "nginx") {
    tmp = mkdtempSync(join(tmpdir(), "wirehouse-nginx-"));
    nginxConf =
      spec.nginx === "php"
        ? writeNginxPhpSite(tmp, port, vars.phpRoot ?? "", vars.fpm ?? "")
        : writeNginxSite(tmp, port);
  }
  let argv: string[];
  try {
    argv = serverCommand(spec, port, nginxConf, vars);
  } catch (e) {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const [cmd, args] = cpu ? ["taskset", ["-c", cpu, ...argv]] : [argv[0]!, argv.slice(1)];
  const child = spawn(cmd, args as string[], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, NO_COLOR: "1" },
  });
  // Only the tail is kept: a server that logs per request must not grow the harness's memory.
  let output = "";
  let readyPid: number | undefined;
  let exited = false;
  child.stdout.on("data", (d) => {
    output = (output + d).slice(-8000);
    const m = readyPid === undefined ? /ready port=\d+ pid=(\d+)/.exec(output) : null;
    if (m) readyPid = Number(m[1]);
  });
  child.stderr.on("data", (d) => {
    output = (output + d).slice(-8000);
  });
  const exit = new Promise<void>((resolve) =>
    child.on("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {}
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, 3000);
      await exit;
      clearTimeout(t);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  const started = Date.now();
  while (!exited && Date.now() - started < 20_000) {
    if (readyPid !== undefined || (await canConnect(port))) {
      // A ready line names the server's pid; without one, taskset and the runtimes exec, so the child is the server.
      return { pid: readyPid ?? child.pid!, port, stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`${spec.id} did not start: ${output.trim().slice(-300) || "no output"}`);
}

/** Starts a server (all its instances) pinned to `cpu`; `vars` are the running fixtures' values for its args. */
export async function startServer(
  spec: ServerSpec,
  cpu: string | undefined,
  vars: Record<string, string> = {},
): Promise<RunningServer> {
  const instances: Array<Awaited<ReturnType<typeof startInstance>>> = [];
  const stop = async () => {
    await Promise.all(instances.map((i) => i.stop()));
  };
  try {
    for (let i = 0; i < (spec.instances ?? 1); i++) instances.push(await startInstance(spec, cpu, vars));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    pid: instances[0]!.pid,
    port: instances[0]!.port,
    pids: instances.map((i) => i.pid),
    ports: instances.map((i) => i.port),
    stop,
  };
}

/** Everything the harness has running (servers, fixtures), stopped on SIGINT/SIGTERM so nothing outlives it. */
const running = new Set<{ stop(): Promise<void> }>();
let signalsInstalled = false;
function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping the servers and fixtures\n`);
      void Promise.all([...running].map((r) => r.stop().catch(() => {}))).then(() => process.exit(130));
    });
  }
}

interface Options {
  suiteName: "quick" | "full";
  repeats?: number;
  only?: string[];
  servers?: string[];
  serverCpu?: string;
  loadCpu?: string;
  quietWaitMs?: number;
  writeReadme: boolean;
  /** Write the README table even for a partial run. */
  forceReadme?: boolean;
}

function versions(): Record<string, string> {
  const v: Record<string, string> = { node: process.versions.node };
  const tryRun = (cmd: string, args: string[], re: RegExp) => {
    try {
      const out = execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      return re.exec(out)?.[1];
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string };
      return re.exec(`${err.stdout ?? ""}${err.stderr ?? ""}`)?.[1];
    }
  };
  const bun = tryRun(join(repoRoot, "node_modules", ".bin", "bun"), ["--version"], /(\S+)/);
  const deno = tryRun(join(repoRoot, "node_modules", ".bin", "deno"), ["--version"], /deno (\S+)/);
  if (bun) v.bun = bun;
  if (deno) v.deno = deno;
  const pkg = (name: string) => {
    try {
      return JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")).version as string;
    } catch {
      return undefined;
    }
  };
  for (const name of ["ws", "autocannon", "hdr-histogram-js"]) {
    const x = pkg(name);
    if (x) v[name] = x;
  }
  if (hasCommand("nginx")) {
    const n = tryRun("nginx", ["-v"], /nginx\/(\S+)/);
    if (n) v.nginx = n;
  }
  if (hasCommand("wrk")) {
    const w = tryRun("wrk", ["-v"], /wrk (\S+)/);
    if (w) v.wrk = w;
  }
  return v;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {}
  return cpus()[0]?.model ?? "unknown";
}

/** Total and idle jiffies of all CPUs (/proc/stat). */
export function cpuTimes(): { total: number; idle: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { total: f.reduce((a, b) => a + b, 0), idle };
  } catch {
    return { total: 0, idle: 0 };
  }
}

/** Fraction of all CPUs busy between two samples. */
const busy = (a: { total: number; idle: number }, b: { total: number; idle: number }) =>
  b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;

/**
 * Waits (at most `maxMs`) until the machine is quiet: less than 15% of all
 * CPUs busy over half a second. Shared machines run other work; starting a
 * run in a quiet moment keeps it out of the figures more often. Returns the
 * last busy fraction seen.
 */
export async function waitQuiet(maxMs: number): Promise<number> {
  if (maxMs <= 0) return Number.NaN;
  const end = Date.now() + maxMs;
  let last = 0;
  do {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 500));
    last = busy(a, cpuTimes());
    if (last < 0.15) break;
  } while (Date.now() < end);
  return last;
}

/** One measured run of a scenario against a started server. */
async function measure(
  sc: ScenarioSpec,
  spec: ServerSpec,
  server: RunningServer,
  loadCpu: string | undefined,
  fixturePids: number[],
): Promise<{ metrics: Record<string, number>; details: Record<string, unknown> }> {
  const run = sc.run;
  const base = `ws://127.0.0.1:${server.port}`;
  if (run.type === "echo") {
    const r = await runLoad({
      mode: "echo",
      url: `${base}${run.path ?? "/"}`,
      connections: run.connections,
      size: run.size,
      inFlight: run.inFlight,
      seconds: run.seconds,
      warmup: run.warmup,
      cpus: loadCpu,
      pid: server.pid,
    });
    if (r.opened < run.connections)
      throw new Error(`only ${r.opened}/${run.connections} connections opened: ${r.firstError}`);
    const metrics: Record<string, number> = { msgs: r.messagesPerSecond };
    // On a shared machine the server rarely gets its whole core; the rate per CPU-second it did get is steadier.
    if (r.serverCpuPercent && r.serverCpuPercent > 1)
      metrics.msgsPerCore = r.messagesPerSecond / (r.serverCpuPercent / 100);
    return {
      metrics,
      details: {
        latency: r.latency,
        loadCpu: r.loadCpuMaxWorker,
        serverCpu: r.serverCpuPercent,
        loadMsgsPerCore: r.loadCpuMaxWorker ? r.messagesPerSecond / (r.loadCpuMaxWorker / 100) : undefined,
        errors: r.errors,
      },
    };
  }
  if (run.type === "broadcast") {
    // Several instances: subscribers spread over all of them, the publisher on the first. The CPU of every
    // server process and fixture (Redis) is summed over the whole load (connecting included).
    const group = [...server.pids, ...fixturePids];
    const cpu0 = group.map((p) => safeCpuSeconds(p));
    const t0 = Date.now();
    const r = await runLoad({
      mode: "broadcast",
      url: `${base}/broadcast`,
      moreUrls: server.ports.slice(1).map((p) => `ws://127.0.0.1:${p}/broadcast`),
      connections: run.subscribers,
      size: run.size,
      inFlight: run.inFlight,
      seconds: run.seconds,
      warmup: run.warmup,
      cpus: loadCpu,
      pid: server.pid,
    });
    const groupCpu =
      group.length > 1
        ? (group.reduce((a, p, i) => a + safeCpuSeconds(p) - cpu0[i]!, 0) * 100_000) / (Date.now() - t0)
        : undefined;
    if (r.opened < run.subscribers)
      throw new Error(`only ${r.opened}/${run.subscribers} subscribers connected: ${r.firstError}`);
    const metrics: Record<string, number> = { msgs: r.messagesPerSecond };
    if (r.messages > 0) metrics.p99 = r.latency.p99;
    // Each publish should reach every subscriber: below 1, messages were lost (or still in flight at the end).
    const deliveredShare = r.published > 0 ? r.messages / (r.published * run.subscribers) : undefined;
    return {
      metrics,
      details: {
        latency: r.latency,
        published: r.published,
        loadCpu: r.loadCpuMaxWorker,
        serverCpu: r.serverCpuPercent,
        ...(groupCpu !== undefined ? { serverGroupCpu: Math.round(groupCpu), instances: server.pids.length } : {}),
        ...(deliveredShare !== undefined ? { deliveredShare: Math.round(deliveredShare * 1000) / 1000 } : {}),
      },
    };
  }
  if (run.type === "connect") {
    const r = await runLoad({
      mode: "connect",
      url: `${base}/`,
      connections: run.connections,
      connectInFlight: run.inFlight,
      hold: run.hold,
      cpus: loadCpu,
      pid: server.pid,
    });
    if (r.opened < run.connections)
      throw new Error(`only ${r.opened}/${run.connections} connections opened: ${r.firstError}`);
    const metrics: Record<string, number> = {
      conns: r.connectionsPerSecond,
      bytes: r.bytesPerConnection ?? Number.NaN,
    };
    const cpu = r.connectServerCpuPercent;
    if (cpu && cpu > 1) metrics.connsPerCore = r.connectionsPerSecond / (cpu / 100);
    return {
      metrics,
      details: {
        rssBefore: r.rssBefore,
        rssAfter: r.rssAfter,
        failed: r.failed,
        serverCpu: cpu,
        loadCpu: r.connectLoadCpuPercent,
        loadConnsPerCore: r.connectLoadCpuPercent
          ? r.connectionsPerSecond / (r.connectLoadCpuPercent / 100)
          : undefined,
      },
    };
  }
  const cpu0 = run.perCore ? safeCpuSeconds(server.pid) : 0;
  const r = await runHttpLoad({
    tool: run.tool,
    url: `http://127.0.0.1:${server.port}${spec.pathPrefix ?? ""}${run.path}`,
    connections: spec.httpConnections ?? run.connections,
    seconds: run.seconds,
    cpus: loadCpu,
  });
  const serverCpuSeconds = run.perCore ? safeCpuSeconds(server.pid) - cpu0 : 0;
  if (r.errors > r.requests / 100)
    throw new Error(`${r.errors} errors in ${r.requests} requests${r.errorDetail ? ` (${r.errorDetail})` : ""}`);
  const metrics: Record<string, number> = { reqs: r.requestsPerSecond };
  // The server is idle while the load tool starts, so its CPU over the whole call is its CPU for these requests.
  if (serverCpuSeconds > 0.05) metrics.reqsPerCore = r.requests / serverCpuSeconds;
  return {
    metrics,
    details: {
      p50: r.latencyP50,
      p99: r.latencyP99,
      errors: r.errors,
      connections: spec.httpConnections ?? run.connections,
      ...(run.perCore ? { serverCpuSeconds } : {}),
    },
  };
}

/** CPU seconds of a process, 0 once it is gone. */
function safeCpuSeconds(pid: number): number {
  try {
    return readCpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** The fixtures a scenario's runnable servers need, in a stable order. */
export function fixturesFor(servers: readonly ServerSpec[], runs: readonly ServerRuns[]): FixtureName[] {
  const out = new Set<FixtureName>();
  servers.forEach((spec, i) => {
    if (!runs[i]?.skipped) for (const f of spec.needs ?? []) out.add(f);
  });
  return [...out].sort();
}

function toolLabel(sc: ScenarioSpec, v: Record<string, string>): string {
  if (sc.run.type === "http")
    return sc.run.tool === "wrk"
      ? `wrk ${v.wrk ?? ""} (Debian)`.replace("  ", " ")
      : `autocannon ${v.autocannon ?? ""}`;
  return "loadgen (this package)";
}

/** Runs a suite; returns the results (also written to disk). */
export async function runHarness(o: Options): Promise<Results> {
  const s = suite(o.suiteName, hasCommand("wrk"));
  const repeats = o.repeats ?? s.repeats;
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  const cores = availableParallelism();
  const pin = hasCommand("taskset") && cores >= 2;
  const serverCpu = pin ? (o.serverCpu ?? "0") : undefined;
  const loadCpu = pin ? (o.loadCpu ?? "1") : undefined;
  const table = serverTable();
  const v = versions();
  const notes: string[] = [];
  if (!pin) notes.push("Not pinned (taskset missing or a single core): figures are less comparable.");
  const scenarios = s.scenarios.filter((sc) => !o.only || o.only.includes(sc.id));

  // Which servers each scenario runs, and why the others do not.
  const plan = scenarios.map((sc) => {
    const servers = sc.servers
      .filter((id) => !o.servers || o.servers.includes(id))
      .map((id) => table.find((t) => t.id === id)!)
      .filter(Boolean);
    const runs: ServerRuns[] = servers.map((spec) => {
      let skipped = unavailable(spec, hasCommand);
      if (!skipped && sc.run.type === "broadcast" && !spec.broadcast) skipped = "no /broadcast endpoint yet";
      if (!skipped && sc.run.type === "http" && sc.run.tool === "wrk" && !hasCommand("wrk"))
        skipped = "wrk not installed";
      return { id: spec.id, label: spec.label, runtime: spec.runtime, runs: [], ...(skipped ? { skipped } : {}) };
    });
    return { sc, servers, runs };
  });
  let total = plan.reduce((a, p) => a + p.runs.filter((r) => !r.skipped).length * repeats, 0);
  let done = 0;
  const tty = process.stderr.isTTY;
  const progress = (text: string) => {
    const line = `[${done}/${total}] ${Math.round((Date.now() - started) / 1000)}s ${text}`;
    if (tty) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(`${line}\n`);
  };
  let outOfTime = false;
  installSignalHandlers();
  for (const { sc, servers, runs } of plan) {
    if (Date.now() - started > s.limitSeconds * 1000) {
      outOfTime = true;
      break;
    }
    // Fixtures (php-fpm, redis-server) run for the whole scenario, pinned with the servers.
    const fixtures: Fixture[] = [];
    const vars: Record<string, string> = {};
    for (const name of fixturesFor(servers, runs)) {
      try {
        progress(`${sc.id}: starting ${name}`);
        const f = await startFixture(name, serverCpu, freePort);
        fixtures.push(f);
        running.add(f);
        Object.assign(vars, f.vars);
      } catch (e) {
        const why = `${name} did not start: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`;
        servers.forEach((spec, i) => {
          if (spec.needs?.includes(name) && !runs[i]!.skipped) {
            runs[i]!.skipped = why;
            total -= repeats;
          }
        });
        notes.push(`${sc.id}: ${why}`);
      }
    }
    const fixturePids = fixtures.flatMap((f) => f.pids);
    try {
      for (let rep = 0; rep < repeats; rep++) {
        for (let i = 0; i < servers.length; i++) {
          const spec = servers[i]!;
          const out = runs[i]!;
          if (out.skipped) continue;
          if (Date.now() - started > s.limitSeconds * 1000) {
            outOfTime = true;
            break;
          }
          progress(`${sc.id} ${spec.id} run ${rep + 1}/${repeats}`);
          let server: RunningServer | undefined;
          try {
            const busyBefore = await waitQuiet(o.quietWaitMs ?? s.quietWaitMs);
            server = await startServer(spec, serverCpu, vars);
            running.add(server);
            const t0 = cpuTimes();
            const r = await measure(sc, spec, server, loadCpu, fixturePids);
            // Busy share of all CPUs during the run: well above (server + load generator) / cores means other work ran too.
            r.details.machineBusy = Math.round(busy(t0, cpuTimes()) * 100);
            // Which pass over the servers this run belongs to: runs of the same round are paired (see pairedRatios).
            r.details.round = rep + 1;
            if (!Number.isNaN(busyBefore)) r.details.busyBefore = Math.round(busyBefore * 100);
            out.runs.push(r);
            const loadBusy = r.details.loadCpu;
            if (typeof loadBusy === "number" && loadBusy > 95) {
              notes.push(
                `${sc.id} ${spec.id} run ${rep + 1}: the load generator's worker was ${Math.round(loadBusy)}% busy (may be the limit).`,
              );
            }
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            notes.push(`${sc.id} ${spec.id} run ${rep + 1} failed: ${msg.split("\n")[0]}`);
          } finally {
            if (server) {
              running.delete(server);
              await server.stop();
            }
          }
          done++;
        }
        if (outOfTime) break;
      }
    } finally {
      for (const f of fixtures.reverse()) {
        running.delete(f);
        await f.stop();
      }
    }
    if (outOfTime) break;
  }
  for (const { sc, runs } of plan) {
    if (sc.run.type !== "connect") continue;
    for (const r of runs) {
      const cap = r.runs.map((x) => Number(x.details?.loadConnsPerCore)).filter((x) => Number.isFinite(x) && x > 0);
      const srv = r.runs.map((x) => Number(x.metrics.connsPerCore)).filter((x) => Number.isFinite(x) && x > 0);
      if (cap.length && srv.length) {
        notes.push(
          `${sc.id} ${r.id}: the load generator sustains ${formatNumber(spread(cap).median)} handshakes per CPU-second ` +
            `of its own, the server ${formatNumber(spread(srv).median)}.`,
        );
      }
    }
  }
  for (const { sc, runs } of plan) {
    if (sc.run.type !== "echo") continue;
    for (const r of runs) {
      const ratios = r.runs
        .map((x) => Number(x.details?.loadCpu) / Number(x.details?.serverCpu))
        .filter((x) => Number.isFinite(x) && x > 0);
      const loadCapacity = r.runs
        .map((x) => Number(x.details?.loadMsgsPerCore))
        .filter((x) => Number.isFinite(x) && x > 0);
      if (ratios.length) {
        notes.push(
          `${sc.id} ${r.id}: the load generator used ${spread(ratios).median.toFixed(2)}× the server's CPU for the same ` +
            `messages (below 1: the server's core fills first); it sustains ${formatNumber(spread(loadCapacity).median)} ` +
            "msgs per CPU-second of its own.",
        );
      }
    }
  }
  for (const { sc, runs } of plan) {
    if (sc.run.type !== "broadcast") continue;
    for (const r of runs) {
      const shares = r.runs.map((x) => Number(x.details?.deliveredShare)).filter((x) => Number.isFinite(x));
      const low = shares.filter((x) => x < 0.95);
      if (low.length)
        notes.push(
          `${sc.id} ${r.id}: ${low.length} of ${shares.length} runs delivered under 95% of publishes × subscribers ` +
            `(lowest ${Math.round(Math.min(...low) * 100)}%): messages dropped or still queued when the run ended.`,
        );
    }
  }
  if (outOfTime) notes.push(`Stopped at the suite's ${s.limitSeconds} s limit; later runs are missing.`);
  if (tty) process.stderr.write("\n");

  const scenarioResults: ScenarioResult[] = plan.map(({ sc, runs }) => ({
    id: sc.id,
    title: sc.title,
    tool: toolLabel(sc, v),
    metrics: sc.metrics,
    reference: sc.reference,
    servers: runs,
  }));
  const date = new Date().toISOString();
  const results: Results = {
    date,
    host: hostname(),
    suite: s.name,
    machine: {
      cpuModel: cpuModel(),
      cores,
      memoryBytes: totalmem(),
      os: `${process.platform} ${release()}`,
      loadAverage: [loadBefore, loadavg()[0]!],
    },
    versions: v,
    settings: { repeats, serverCpu: serverCpu ?? "any", loadCpu: loadCpu ?? "any", loopback: "127.0.0.1" },
    scenarios: scenarioResults,
    targets: targets(scenarioResults.map((x) => x.id)),
    durationSeconds: (Date.now() - started) / 1000,
    notes,
  };
  mkdirSync(join(benchDir, "results"), { recursive: true });
  // A run of part of a suite (--only, --servers) gets its own file and leaves the README alone unless asked.
  const partial = o.only || o.servers ? "-partial" : "";
  // The quick suite's file is <date>-<host>.json; the full suite's gets "-full" so neither replaces the other.
  const suffix = `${s.name === "full" ? "-full" : ""}${partial}`;
  const file = join(benchDir, "results", `${date.slice(0, 10)}-${results.host}${suffix}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${file}`);
  if (!partial || o.forceReadme) render(results, o.writeReadme);
  else console.log(renderTable(results));
  return results;
}

/** Writes the charts and (optionally) the README table from one results object. */
export function render(results: Results, writeReadme: boolean): void {
  const table = renderTable(results);
  // The README and the charts go together (the table links the charts): both or neither.
  if (writeReadme) {
    mkdirSync(join(benchDir, "results"), { recursive: true });
    const wirehouseIds = new Set(
      serverTable()
        .filter((x) => x.wirehouse)
        .map((x) => x.id),
    );
    for (const sc of results.scenarios) {
      for (const m of sc.metrics) {
        writeFileSync(join(benchDir, "results", chartName(sc, m)), renderChart(sc, m, wirehouseIds));
      }
    }
    const readmePath = join(benchDir, "README.md");
    const readme = readFileSync(readmePath, "utf8");
    writeFileSync(readmePath, replaceBetweenMarkers(readme, table));
    console.log(`table and charts written (${readmePath})`);
  }
  console.log(table);
}

async function cli(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv);
  const list = (k: string) => (typeof flags[k] === "string" ? (flags[k] as string).split(",") : undefined);
  if (typeof flags.render === "string") {
    const results = JSON.parse(readFileSync(flags.render, "utf8")) as Results;
    // Targets are definitions, not measurements: render with the current ones.
    results.targets = targets(results.scenarios.map((x) => x.id));
    render(results, !flags["no-readme"]);
    return;
  }
  await runHarness({
    suiteName: flags.full ? "full" : "quick",
    repeats: flags.repeats ? Number(flags.repeats) : undefined,
    only: list("only"),
    servers: list("servers"),
    serverCpu: typeof flags["server-cpu"] === "string" ? flags["server-cpu"] : undefined,
    loadCpu: typeof flags["load-cpu"] === "string" ? flags["load-cpu"] : undefined,
    quietWaitMs: flags["quiet-wait"] ? Number(flags["quiet-wait"]) * 1000 : undefined,
    writeReadme: !flags["no-readme"],
    forceReadme: flags.readme === true,
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    },
  );
}
