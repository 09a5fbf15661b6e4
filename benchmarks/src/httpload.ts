/**
 * @module
 * HTTP load for the static scenarios: autocannon used as a library (in a
 * child process, so it can be pinned to the load core) and wrk from Debian
 * when installed. Every figure records which tool produced it.
 *
 *   node --import tsx benchmarks/src/httpload.ts --url http://127.0.0.1:8080/4k --connections 100 --seconds 5 [--tool wrk] [--cpus 1]
 */
import { execFileSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./args.ts";

export type HttpTool = "autocannon" | "wrk";

export interface HttpLoadOptions {
  tool: HttpTool;
  url: string;
  connections?: number;
  seconds?: number;
  /** CPU list for taskset -c. */
  cpus?: string;
}

export interface HttpLoadResult {
  tool: HttpTool;
  url: string;
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  bytesPerSecond: number;
  latencyP50: number;
  latencyP99: number;
  /** Socket errors, timeouts and non-2xx answers together. */
  errors: number;
  /** What the errors were (autocannon): e.g. "non-2xx 3 (503: 3), timeouts 1". */
  errorDetail?: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Whether an executable is on PATH. */
export function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Parses wrk's report: requests/s, total requests, transfer/s and the latency distribution (with --latency). */
export function parseWrk(out: string): Omit<HttpLoadResult, "tool" | "url" | "connections" | "seconds"> {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : Number.NaN;
  };
  const size = (v: string, unit: string) =>
    Number(v) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as Record<string, number>)[unit.toUpperCase()]!;
  const time = (v: string, unit: string) =>
    Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 } as Record<string, number>)[unit]!;
  const lat = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    return m ? time(m[1]!, m[2]!) : Number.NaN;
  };
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(out);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests: num(/(\d+) requests in/),
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    bytesPerSecond: transfer ? size(transfer[1]!, transfer[2]!) : Number.NaN,
    latencyP50: lat("50"),
    latencyP99: lat("99"),
    errors: (errors ? errors.slice(1).reduce((a, x) => a + Number(x), 0) : 0) + (Number.isNaN(non2xx) ? 0 : non2xx),
  };
}

function run(cmd: string, args: string[], limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: join(here, ".."), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited with ${code}: ${err.trim().slice(-400)}`));
    });
  });
}

/** Runs one HTTP load in a child process (pinned when `cpus` is given). */
export async function runHttpLoad(o: HttpLoadOptions): Promise<HttpLoadResult> {
  const connections = o.connections ?? 100;
  const seconds = o.seconds ?? 5;
  const pin = (argv: string[]): [string, string[]] =>
    o.cpus ? ["taskset", ["-c", o.cpus, ...argv]] : [argv[0]!, argv.slice(1)];
  const limit = (seconds + 30) * 1000;
  if (o.tool === "wrk") {
    // wrk takes whole seconds only.
    const [cmd, args] = pin([
      "wrk",
      "-t1",
      `-c${connections}`,
      `-d${Math.max(1, Math.round(seconds))}s`,
      "--latency",
      o.url,
    ]);
    const out = await run(cmd, args, limit);
    return { tool: "wrk", url: o.url, connections, seconds, ...parseWrk(out) };
  }
  const [cmd, args] = pin([
    "node",
    "--import",
    "tsx",
    join(here, "httpload.ts"),
    "--tool",
    "autocannon",
    "--in-process",
    "--url",
    o.url,
    "--connections",
    String(connections),
    "--seconds",
    String(seconds),
  ]);
  const out = await run(cmd, args, limit);
  return JSON.parse(out.trim().split("\n").pop()!) as HttpLoadResult;
}

/** autocannon in this process. */
export async function autocannonHere(url: string, connections: number, seconds: number): Promise<HttpLoadResult> {
  const { default: autocannon } = await import("autocannon");
  const r = await autocannon({ url, connections, duration: seconds });
  return {
    tool: "autocannon",
    url,
    connections,
    seconds: r.duration,
    requests: r.requests.total,
    requestsPerSecond: r.requests.total / r.duration,
    bytesPerSecond: r.throughput.total / r.duration,
    latencyP50: r.latency.p50,
    latencyP99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    errorDetail: [
      r.non2xx
        ? `non-2xx ${r.non2xx} (${Object.entries(r.statusCodeStats ?? {})
            .filter(([code]) => !code.startsWith("2"))
            .map(([code, v]) => `${code}: ${v.count}`)
            .join(", ")})`
        : "",
      r.timeouts ? `timeouts ${r.timeouts}` : "",
      r.errors ? `socket errors ${r.errors}` : "",
    ]
      .filter(Boolean)
      .join(", "),
  };
}

async function cli(argv: string[]): Promise<void> {
  const { flags } = parseArgs(argv);
  if (typeof flags.url !== "string") {
    console.error(
      "usage: httpload --url http://127.0.0.1:PORT/4k [--tool autocannon|wrk] [--connections N] [--seconds S] [--cpus LIST]",
    );
    process.exit(2);
  }
  const connections = Number(flags.connections ?? 100);
  const seconds = Number(flags.seconds ?? 5);
  const tool = (flags.tool === "wrk" ? "wrk" : "autocannon") as HttpTool;
  const r = flags["in-process"]
    ? await autocannonHere(flags.url, connections, seconds)
    : await runHttpLoad({
        tool,
        url: flags.url,
        connections,
        seconds,
        cpus: typeof flags.cpus === "string" ? flags.cpus : undefined,
      });
  console.log(JSON.stringify(r));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
