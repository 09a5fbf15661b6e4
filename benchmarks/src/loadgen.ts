/**
 * @module
 * The WebSocket load generator: a coordinator that splits connections over
 * worker processes (optionally pinned with `taskset`), runs one mode and
 * merges their counts and latency histograms.
 *
 *   node --import tsx benchmarks/src/loadgen.ts echo --url ws://127.0.0.1:9001/ --connections 100 --size 32 --seconds 10
 *   npm run loadgen -w @wirehouse/benchmarks -- idle --url ws://127.0.0.1:9001/ --connections 10000 --pid 1234
 *
 * Modes: echo, idle, connect, broadcast (see README.md).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./args.ts";
import { type LatencySummary, mergeHistograms, summarize } from "./stats.ts";
import type { FromWorker, ToWorker, WorkerPlan } from "./worker.ts";

export type Mode = WorkerPlan["mode"];

export interface LoadOptions {
  mode: Mode;
  /** ws://host:port/path of the server (for broadcast, the endpoint that fans out, e.g. /broadcast). */
  url: string;
  /** More instances to spread the connections over (round-robin with `url`; the broadcast publisher stays on `url`). */
  moreUrls?: string[];
  /** Connections (subscribers in broadcast mode). */
  connections: number;
  /** Message size in bytes (echo, broadcast; at least 8 in broadcast for the timestamp). */
  size?: number;
  /** Binary frames (default: text below 1 KiB, binary from 1 KiB). */
  binary?: boolean;
  /** Messages in flight per connection (echo) or for the publisher (broadcast). */
  inFlight?: number;
  /** Handshakes in flight while opening (all workers together). */
  connectInFlight?: number;
  /** Measured seconds (echo, broadcast). */
  seconds?: number;
  /** Seconds of load before measuring starts (echo, broadcast). */
  warmup?: number;
  /** Worker processes (default: one per CPU in `cpus`, else half the cores). */
  workers?: number;
  /** CPU list for `taskset -c` (e.g. "1" or "1-3"); workers are spread over it. */
  cpus?: string;
  /** Server process id: reads its VmRSS from /proc before and after opening the connections. */
  pid?: number;
  /** Seconds to hold idle connections before the last memory reading (idle, connect with pid). */
  hold?: number;
  /** Number of source addresses in 127.0.0.0/8 (default: one per 30,000 connections; 0: let the kernel choose). */
  sources?: number;
  /** Per-handshake limit in ms. */
  connectTimeoutMs?: number;
  /**
   * Runtime of the worker processes: "node" (raw libuv TCP handles), "bun" (Bun.connect) or "auto"
   * (default, or LOADGEN_RUNTIME): Bun for echo and broadcast when a bun binary is found, Node otherwise.
   */
  runtime?: "node" | "bun" | "auto";
}

export interface LoadResult {
  mode: Mode;
  url: string;
  workers: number;
  connections: number;
  opened: number;
  failed: number;
  /** Seconds to open all connections (the slowest worker). */
  connectSeconds: number;
  connectionsPerSecond: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  latency: LatencySummary;
  /** Broadcast: messages the publisher sent while measuring. */
  published: number;
  rssBefore?: number;
  rssAfter?: number;
  bytesPerConnection?: number;
  errors: number;
  closedByServer: number;
  firstError?: string;
  /** Load generator CPU while measuring, percent of one core summed over workers (user + system). */
  loadCpuPercent?: number;
  /** Busiest worker's CPU while measuring, percent of one core: near 100 means the load generator may be the limit. */
  loadCpuMaxWorker?: number;
  /** What the workers ran on: "node" or "bun". */
  loadRuntime: "node" | "bun";
  /** Busiest worker's CPU while opening the connections, percent of one core. */
  connectLoadCpuPercent?: number;
  /** Server CPU while the connections were being opened, percent of one core, when `pid` was given. */
  connectServerCpuPercent?: number;
  /** Server CPU while measuring (from /proc/<pid>/stat), percent of one core, when `pid` was given. */
  serverCpuPercent?: number;
}

/** Expands a taskset CPU list ("1", "1-3", "0,2") to CPU numbers. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(",")) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`bad CPU list: ${list}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

/** Splits `total` into `parts` shares that differ by at most one. */
export function shares(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}

/**
 * Source addresses for `count` connections to a 127.x target: a random /24
 * inside 127.0.0.0/8 (not 127.0.0.x), so runs in a row do not meet each
 * other's ports, one address per 30,000 connections (each connection gets its own port) unless told.
 */
export function sourceAddresses(target: string, connections: number, count?: number): string[] {
  if (!/^127\./.test(target) || count === 0) return [];
  const n = Math.max(1, Math.min(250, count ?? Math.ceil(connections / 30_000)));
  const b = 1 + Math.floor(Math.random() * 254);
  const c = Math.floor(Math.random() * 256);
  return Array.from({ length: n }, (_, i) => `127.${b}.${c}.${2 + i}`);
}

/** CPU time (user + system) a process has used, in seconds (/proc/<pid>/stat fields 14 and 15). */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The resident set size of a process in bytes (VmRSS from /proc/<pid>/status). */
export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, "..");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A bun binary: this process's own under Bun, else node_modules/.bin/bun up the tree, else on PATH. */
export function findBun(): string | undefined {
  if (process.versions.bun) return process.execPath;
  for (let d = packageDir; ; d = dirname(d)) {
    const p = join(d, "node_modules", ".bin", "bun");
    if (existsSync(p)) return p;
    if (dirname(d) === d) break;
  }
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    if (d && existsSync(join(d, "bun"))) return join(d, "bun");
  }
  return undefined;
}

/**
 * The workers' runtime. Measured on the 2-core machine, one worker on its own core, per message (echo
 * 32 B) and per connection (handshake, 10,000 connections): Bun.connect 6.6 µs and 46 µs, Node's raw
 * libuv handles 7.3 µs and 37 µs, node:net 9.6 µs and 86 µs. So: Bun where messages are counted, Node
 * where connections are.
 */
export function pickRuntime(mode: Mode, wanted = process.env.LOADGEN_RUNTIME ?? "auto"): "node" | "bun" {
  if (wanted === "node") return "node";
  if (wanted === "bun") {
    if (!findBun()) throw new Error("--runtime bun: no bun binary found (node_modules/.bin or PATH)");
    return "bun";
  }
  return (mode === "echo" || mode === "broadcast") && findBun() ? "bun" : "node";
}

class WorkerHandle {
  readonly child: ChildProcess;
  private waiters: Array<(m: FromWorker) => void> = [];
  private inbox: FromWorker[] = [];
  exited = false;

  constructor(cpu: number | undefined, runtime: "node" | "bun") {
    let argv: string[];
    if (runtime === "bun") {
      argv = [findBun()!, join(here, "worker.ts")];
    } else {
      const node = process.versions.bun || (globalThis as { Deno?: unknown }).Deno ? "node" : process.execPath;
      // LOADGEN_PROFILE=dir writes a V8 CPU profile of each worker there (to see where the load generator's time goes).
      const profile = process.env.LOADGEN_PROFILE
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.LOADGEN_PROFILE}`]
        : [];
      argv = [node, ...profile, "--import", "tsx", join(here, "worker.ts")];
    }
    const [cmd, args] = cpu === undefined ? [argv[0]!, argv.slice(1)] : ["taskset", ["-c", String(cpu), ...argv]];
    this.child = spawn(cmd, args, { cwd: packageDir, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.child.on("message", (m: FromWorker) => {
      const w = this.waiters.shift();
      if (w) w(m);
      else this.inbox.push(m);
    });
    this.child.on("exit", () => {
      this.exited = true;
    });
  }

  send(m: ToWorker): void {
    if (!this.exited && this.child.connected) this.child.send(m);
  }

  next(): Promise<FromWorker> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      this.child.once("exit", (code) => reject(new Error(`load generator worker exited (code ${code})`)));
    });
  }
}

/** Runs one load generator mode and returns merged figures. Bounded: gives up after the plan's time plus a minute. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const mode = options.mode;
  const url = new URL(options.url);
  const cpus = options.cpus ? parseCpuList(options.cpus) : undefined;
  const workerCount = Math.max(
    1,
    Math.min(
      options.workers ?? cpus?.length ?? Math.max(1, Math.floor(availableParallelism() / 2)),
      options.connections,
    ),
  );
  const size = options.size ?? 32;
  const seconds = options.seconds ?? 10;
  const warmup = options.warmup ?? 1;
  const total = options.connections + (mode === "broadcast" ? 1 : 0);
  const sources = sourceAddresses(url.hostname, total, options.sources);
  const connectShares = shares(options.connectInFlight ?? 200, workerCount);
  const connShares = shares(options.connections, workerCount);
  const runtime = pickRuntime(mode, options.runtime);

  const workers = Array.from(
    { length: workerCount },
    (_, i) => new WorkerHandle(cpus ? cpus[i % cpus.length] : undefined, runtime),
  );
  const deadline = setTimeout(
    () => {
      for (const w of workers) w.child.kill("SIGKILL");
    },
    (seconds + warmup + (options.hold ?? 2) + 60 + total / 500) * 1000,
  );
  try {
    let first = 0;
    workers.forEach((w, i) => {
      const connections = connShares[i]! + (mode === "broadcast" && i === 0 ? 1 : 0);
      const plan: WorkerPlan = {
        mode,
        url: url.href,
        ...(options.moreUrls?.length ? { moreUrls: options.moreUrls } : {}),
        connections,
        firstIndex: first,
        sources,
        size: mode === "broadcast" ? Math.max(8, size) : size,
        binary: options.binary ?? (mode === "broadcast" || size >= 1024),
        inFlight: options.inFlight ?? 1,
        connectInFlight: Math.max(1, connectShares[i]!),
        publisher: mode === "broadcast" && i === 0,
        connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      };
      first += connections;
      w.send({ type: "plan", plan });
    });
    for (const w of workers) await expect(w, "ready");

    const rssBefore = options.pid ? readRss(options.pid) : undefined;
    const serverCpuBefore = options.pid ? readCpuSeconds(options.pid) : 0;
    const openStarted = performance.now();
    const openedAll = workers.map((w) => {
      w.send({ type: "open" });
      return expect(w, "opened");
    });
    const opened = await Promise.all(openedAll);
    const openCount = opened.reduce((a, o) => a + o.opened, 0);
    // In broadcast mode one of the connections is the publisher; `opened` counts subscribers like `connections`.
    const publisherCount = mode === "broadcast" ? 1 : 0;
    const failed = opened.reduce((a, o) => a + o.failed, 0);
    const connectSeconds = Math.max(...opened.map((o) => o.elapsedMs)) / 1000;
    const firstError = opened.find((o) => o.error)?.error;
    const connectServerCpu = options.pid
      ? ((readCpuSeconds(options.pid) - serverCpuBefore) * 100_000) / (performance.now() - openStarted)
      : undefined;

    const result: LoadResult = {
      mode,
      url: url.href,
      workers: workerCount,
      connections: options.connections,
      opened: Math.max(0, openCount - publisherCount),
      failed,
      connectSeconds,
      connectionsPerSecond: connectSeconds > 0 ? openCount / connectSeconds : 0,
      messages: 0,
      seconds: 0,
      messagesPerSecond: 0,
      latency: summarize(mergeHistograms([])),
      published: 0,
      errors: 0,
      closedByServer: 0,
      loadRuntime: runtime,
      ...(firstError ? { firstError } : {}),
      ...(connectServerCpu !== undefined ? { connectServerCpuPercent: connectServerCpu } : {}),
      connectLoadCpuPercent: Math.max(...opened.map((o) => o.cpuPercent)),
    };

    if (mode === "idle" || mode === "connect") {
      if (options.pid && rssBefore !== undefined) {
        // Hold the connections, then take the last of a few readings once the server has settled.
        const hold = (options.hold ?? 2) * 1000;
        let rss = readRss(options.pid);
        for (let t = 0; t < hold; t += 250) {
          await sleep(250);
          rss = readRss(options.pid);
        }
        result.rssBefore = rssBefore;
        result.rssAfter = rss;
        result.bytesPerConnection = openCount > 0 ? (rss - rssBefore) / openCount : 0;
      } else if (mode === "idle") {
        await sleep((options.hold ?? 2) * 1000);
      }
      return result;
    }

    let serverCpu0 = 0;
    let serverT0 = 0;
    const serverSample = options.pid
      ? setTimeout(() => {
          serverCpu0 = readCpuSeconds(options.pid!);
          serverT0 = performance.now();
        }, warmup * 1000)
      : undefined;
    const results = await Promise.all(
      workers.map((w) => {
        w.send({ type: "run", warmupMs: warmup * 1000, durationMs: seconds * 1000 });
        return expect(w, "result");
      }),
    );
    clearTimeout(serverSample);
    if (options.pid && serverT0 > 0) {
      result.serverCpuPercent =
        ((readCpuSeconds(options.pid) - serverCpu0) * 1000 * 100) / (performance.now() - serverT0);
    }
    result.loadCpuPercent = results.reduce((a, r) => a + r.cpuUser + r.cpuSystem, 0);
    result.loadCpuMaxWorker = Math.max(...results.map((r) => r.cpuUser + r.cpuSystem));
    const measured = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
    const messages = results.reduce((a, r) => a + r.messages, 0);
    result.messages = messages;
    result.seconds = measured;
    result.messagesPerSecond = measured > 0 ? messages / measured : 0;
    result.latency = summarize(mergeHistograms(results.map((r) => r.histogram)));
    result.published = results.reduce((a, r) => a + r.published, 0);
    result.errors = results.reduce((a, r) => a + r.errors, 0);
    result.closedByServer = results.reduce((a, r) => a + r.closedByServer, 0);
    return result;
  } finally {
    clearTimeout(deadline);
    for (const w of workers) w.send({ type: "close" });
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exited) return resolve();
            const t = setTimeout(() => {
              w.child.kill("SIGKILL");
              resolve();
            }, 3000);
            w.child.once("exit", () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }
}

async function expect<T extends FromWorker["type"]>(
  w: WorkerHandle,
  type: T,
): Promise<Extract<FromWorker, { type: T }>> {
  const m = await w.next();
  if (m.type !== type) throw new Error(`load generator worker: expected ${type}, got ${m.type}`);
  return m as Extract<FromWorker, { type: T }>;
}

/** One line per figure, for people. */
export function formatResult(r: LoadResult): string {
  const lines = [
    `${r.mode} ${r.url}: ${r.opened}/${r.connections} connections open (${r.workers} ${r.loadRuntime} workers)`,
  ];
  if (r.failed) lines.push(`  failed handshakes: ${r.failed}${r.firstError ? ` (${r.firstError})` : ""}`);
  const cpu =
    r.connectLoadCpuPercent === undefined
      ? ""
      : ` (load generator ${Math.round(r.connectLoadCpuPercent)}% CPU` +
        (r.connectServerCpuPercent === undefined ? ")" : `, server ${Math.round(r.connectServerCpuPercent)}%)`);
  lines.push(`  connect: ${r.connectSeconds.toFixed(3)} s, ${Math.round(r.connectionsPerSecond)} connections/s${cpu}`);
  if (r.bytesPerConnection !== undefined) {
    lines.push(
      `  server RSS: ${(r.rssBefore! / 2 ** 20).toFixed(1)} MiB -> ${(r.rssAfter! / 2 ** 20).toFixed(1)} MiB, ` +
        `${Math.round(r.bytesPerConnection)} bytes per connection`,
    );
  }
  if (r.mode === "echo" || r.mode === "broadcast") {
    const l = r.latency;
    lines.push(
      `  ${r.mode === "broadcast" ? "delivered" : "echoed"}: ${r.messages} messages in ${r.seconds.toFixed(2)} s = ` +
        `${Math.round(r.messagesPerSecond)} msgs/s${r.mode === "broadcast" ? ` (${r.published} published)` : ""}`,
    );
    lines.push(`  latency ms: p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max}`);
    if (r.loadCpuPercent !== undefined) {
      const server = r.serverCpuPercent === undefined ? "" : `, server ${Math.round(r.serverCpuPercent)}%`;
      lines.push(
        `  cpu: load generator ${Math.round(r.loadCpuPercent)}% (busiest worker ${Math.round(r.loadCpuMaxWorker!)}%)${server}`,
      );
    }
    if (r.errors || r.closedByServer) lines.push(`  errors: ${r.errors}, closed by server: ${r.closedByServer}`);
  }
  return lines.join("\n");
}

const USAGE = `usage: loadgen <echo|idle|connect|broadcast> --url ws://127.0.0.1:PORT/[,ws://…] [options]
  --url A,B,…         several URLs: connections spread round-robin (broadcast: the publisher on the first)
  --connections N     connections (subscribers for broadcast)        default 100
  --size B            message size in bytes                           default 32
  --binary / --text   frame type (default: text below 1 KiB)
  --in-flight K       messages in flight per connection / publisher   default 1
  --connect-in-flight K  handshakes in flight                         default 200
  --seconds S         measured seconds                                default 10
  --warmup S          seconds before measuring                        default 1
  --workers W         worker processes
  --cpus LIST         pin workers with taskset -c (e.g. 1 or 1-3)
  --pid PID           server pid: report RSS delta per connection
  --hold S            seconds to hold connections (idle)              default 2
  --sources N         source addresses in 127.0.0.0/8
  --runtime R         workers on node, bun or auto (bun for echo/broadcast when found)  default auto
  --json              print the result as JSON`;

async function cli(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs(argv);
  const mode = positional[0] as Mode | undefined;
  if (!mode || !["echo", "idle", "connect", "broadcast"].includes(mode) || typeof flags.url !== "string") {
    console.error(USAGE);
    process.exit(2);
  }
  const num = (k: string) => (flags[k] === undefined ? undefined : Number(flags[k]));
  const [first, ...more] = flags.url.split(",");
  const result = await runLoad({
    mode,
    url: first!,
    moreUrls: more,
    connections: num("connections") ?? 100,
    size: num("size"),
    binary: flags.binary ? true : flags.text ? false : undefined,
    inFlight: num("in-flight"),
    connectInFlight: num("connect-in-flight"),
    seconds: num("seconds"),
    warmup: num("warmup"),
    workers: num("workers"),
    cpus: typeof flags.cpus === "string" ? flags.cpus : undefined,
    pid: num("pid"),
    hold: num("hold"),
    sources: num("sources"),
    ...(typeof flags.runtime === "string" ? { runtime: flags.runtime as "node" | "bun" | "auto" } : {}),
  });
  console.log(flags.json ? JSON.stringify(result) : formatResult(result));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
