/**
 * @module
 * The scenarios of the quick and full suites and the targets they report.
 * A scenario names its servers (ids from servers.ts), its peer, its tool and
 * how one run is measured.
 */
import type { HttpTool } from "./httpload.ts";
import type { Metric, Target } from "./results.ts";

export type ScenarioKind =
  | {
      type: "echo";
      connections: number;
      size: number;
      inFlight: number;
      seconds: number;
      warmup: number;
      /** Path of the echo endpoint (default "/"). */
      path?: string;
    }
  | { type: "connect"; connections: number; inFlight: number; hold: number }
  | { type: "broadcast"; subscribers: number; size: number; inFlight: number; seconds: number; warmup: number }
  | {
      type: "http";
      tool: HttpTool;
      path: string;
      connections: number;
      seconds: number;
      /**
       * Also report requests per server CPU-second (the server's CPU over the whole load; steadier than the
       * rate on a shared machine). Only where the server's pid does all its work (not nginx, not PHP pools).
       */
      perCore?: boolean;
    };

export interface ScenarioSpec {
  id: string;
  title: string;
  run: ScenarioKind;
  metrics: Metric[];
  reference: string;
  servers: string[];
}

const MSGS: Metric = { key: "msgs", label: "messages/s", unit: "msgs/s", higher: true };
/** The rate divided by the share of a core the server got: steadier than the rate on a shared machine. */
const PER_CORE: Metric = {
  key: "msgsPerCore",
  label: "messages per server CPU-second",
  unit: "msgs/CPU-s",
  higher: true,
};
const CONNS: Metric = { key: "conns", label: "connections/s", unit: "conn/s", higher: true };
const CONNS_PER_CORE: Metric = {
  key: "connsPerCore",
  label: "connections per server CPU-second",
  unit: "conn/CPU-s",
  higher: true,
};
const BYTES: Metric = { key: "bytes", label: "memory per idle connection", unit: "B/conn", higher: false };
const REQS: Metric = { key: "reqs", label: "requests/s", unit: "req/s", higher: true };
const REQS_PER_CORE: Metric = {
  key: "reqsPerCore",
  label: "requests per server CPU-second",
  unit: "req/CPU-s",
  higher: true,
};
/** Broadcast: the 99th percentile of publish → each subscriber's receipt. */
const P99: Metric = { key: "p99", label: "p99 fan-out latency", unit: "ms", higher: false };

// Each wirehouse server runs right before the peer its targets name (the harness goes round the list once per
// repeat), so the two runs of a pair are seconds apart and see the same state of the machine: see `pairedRatios`.
const WS_CORE = ["wirehouse-node", "ws-node", "wirehouse-deno", "deno-ws", "wirehouse-bun", "bun-ws"];
const WS_FULL = [...WS_CORE, "ws-deno", "ws-bun", "ws-shim-bun"];
/**
 * The full suite's 32 B echo also runs the floors (servers.ts): the kernel's, then each runtime's before
 * that runtime's pair, so every round shows how far wirehouse is from a server that does nothing.
 */
const ECHO_32_FULL = [
  "floor-native",
  "floor-node",
  ...WS_CORE.slice(0, 2),
  "floor-deno",
  ...WS_CORE.slice(2, 4),
  "floor-bun",
  ...WS_CORE.slice(4),
  ...WS_FULL.slice(WS_CORE.length),
];
const HTTP = [
  "wirehouse-http-node",
  "wirehouse-http-deno",
  "wirehouse-http-bun",
  "node-http",
  "bun-http",
  "deno-http",
  "nginx",
];

export interface Suite {
  name: "quick" | "full";
  repeats: number;
  scenarios: ScenarioSpec[];
  /** Hard bound on the whole run; what is left after it is skipped and noted. */
  limitSeconds: number;
  /** Before each run, wait at most this long for the machine to be quiet (see harness `waitQuiet`). */
  quietWaitMs: number;
}

/** The quick suite (about 4–5 minutes with wirehouse wired in) or the full one. */
export function suite(name: "quick" | "full", hasWrk = true): Suite {
  const full = name === "full";
  // Quick: 1.5 s measured after 0.5 s of warm-up, so 3 runs of every scenario and server fit in 5 minutes.
  const seconds = full ? 5 : 1.5;
  const warmup = full ? 1 : 0.5;
  const ws = full ? WS_FULL : WS_CORE;
  const scenarios: ScenarioSpec[] = [
    {
      id: "echo-32",
      title: "Echo 32 B text, 100 connections, 1 in flight",
      run: { type: "echo", connections: 100, size: 32, inFlight: 1, seconds, warmup },
      metrics: [MSGS, PER_CORE],
      reference: "ws-node",
      servers: full ? ECHO_32_FULL : ws,
    },
    {
      id: "echo-16k",
      title: "Echo 16 KiB binary, 100 connections, 1 in flight",
      run: { type: "echo", connections: 100, size: 16384, inFlight: 1, seconds, warmup },
      metrics: [MSGS, PER_CORE],
      reference: "ws-node",
      servers: ws,
    },
    {
      id: "connect-10k",
      title: "10,000 connections, 200 handshakes in flight, held open",
      run: { type: "connect", connections: 10_000, inFlight: 200, hold: full ? 3 : 1 },
      metrics: [CONNS, CONNS_PER_CORE, BYTES],
      reference: "ws-node",
      servers: ws,
    },
  ];
  // Issue 9: broadcast in both suites.
  scenarios.push({
    id: "broadcast-1k",
    title: "Broadcast to 1,000 subscribers, 32 B, 4 in flight",
    run: { type: "broadcast", subscribers: 1000, size: 32, inFlight: 4, seconds, warmup },
    metrics: [MSGS, P99],
    reference: "ws-node",
    servers: ws,
  });
  // autocannon's own core caps it near 20–26k req/s on a 2-core machine (ANCHORS.md), below nginx and Bun:
  // the quick suite uses wrk when it is installed, the full suite both.
  const tools: HttpTool[] = full ? ["autocannon", "wrk"] : [hasWrk ? "wrk" : "autocannon"];
  for (const tool of tools) {
    const bodies: Array<[string, string]> = full
      ? [
          ["/4k", "4 KiB"],
          ["/256k", "256 KiB"],
        ]
      : [["/4k", "4 KiB"]];
    for (const [path, label] of bodies) {
      scenarios.push({
        id: `static-${path.slice(1)}-${tool}`,
        title: `Static ${label} from memory, 100 keep-alive connections (${tool})`,
        run: { type: "http", tool, path, connections: 100, seconds: Math.ceil(seconds) },
        metrics: [REQS],
        reference: "node-http",
        servers: HTTP,
      });
    }
  }
  if (full) scenarios.push(...scriptedScenarios(warmup));
  return {
    name,
    repeats: full ? 5 : 3,
    scenarios,
    // No run starts after this (the last one ends within about 10 s), so the quick suite stays within 5 minutes.
    limitSeconds: full ? 90 * 60 : 5 * 60 - 15,
    quietWaitMs: full ? 2_000 : 0,
  };
}

const RUNTIMES = ["node", "deno", "bun"] as const;

/**
 * Issues 7, 8 and 10 (full suite): page scripts next to EJS, websocket-script echo next to the
 * TypeScript-handler echo, a PHP page through wirehouse next to nginx + the same php-fpm pool, and
 * broadcast over two instances through Redis next to one instance in-process.
 */
function scriptedScenarios(warmup: number): ScenarioSpec[] {
  return [
    {
      id: "page-20",
      title: "Page script looping over 20 items, fresh context per request, 100 connections (autocannon)",
      // The figure: autocannon, 100 connections, 10 s.
      run: { type: "http", tool: "autocannon", path: "/shop.sjs", connections: 100, seconds: 10, perCore: true },
      metrics: [REQS, REQS_PER_CORE],
      reference: "ejs-node",
      servers: [...RUNTIMES.map((r) => `wirehouse-page-${r}`), "ejs-node"],
    },
    {
      id: "script-echo-32",
      title: "Websocket-script echo, 32 B text, 100 connections, 1 in flight",
      run: { type: "echo", connections: 100, size: 32, inFlight: 1, seconds: 5, warmup, path: "/echo" },
      metrics: [MSGS, PER_CORE],
      reference: "wirehouse-node",
      servers: [...RUNTIMES.map((r) => `wirehouse-script-${r}`), ...RUNTIMES.map((r) => `wirehouse-${r}`)],
    },
    {
      id: "php",
      title: "Small PHP page, php-fpm (static pool of 4) or php-cgi, 100 connections (autocannon)",
      run: { type: "http", tool: "autocannon", path: "/hello.php?name=bench", connections: 100, seconds: 5 },
      metrics: [REQS],
      reference: "nginx-php",
      servers: ["nginx-php", ...RUNTIMES.map((r) => `wirehouse-php-fastcgi-${r}`), "wirehouse-php-cgi-node"],
    },
    {
      id: "broadcast-1k-redis",
      title: "Broadcast to 1,000 subscribers over 2 instances via Redis, 32 B, 4 in flight",
      run: { type: "broadcast", subscribers: 1000, size: 32, inFlight: 4, seconds: 5, warmup },
      metrics: [MSGS, P99],
      reference: "wirehouse-node",
      servers: RUNTIMES.flatMap((r) => [`wirehouse-${r}`, `wirehouse-redis-${r}`]),
    },
  ];
}

/** The targets of issues 6 and 9 (and ANCHORS.md for memory on Bun and Deno), reported next to the figures. */
export function targets(scenarioIds: readonly string[]): Target[] {
  const out: Target[] = [];
  const has = (id: string) => scenarioIds.includes(id);
  for (const [id, label] of [
    ["echo-32", "echo 32 B"],
    ["echo-16k", "echo 16 KiB"],
  ] as const) {
    if (!has(id)) continue;
    out.push({
      scenario: id,
      metric: "msgs",
      server: "wirehouse-node",
      peer: "ws-node",
      op: ">=",
      value: 1.5,
      text: `${label}: wirehouse (Node) ≥ 1.5× ws (Node)`,
    });
    out.push({
      scenario: id,
      metric: "msgs",
      server: "wirehouse-bun",
      peer: "bun-ws",
      op: ">=",
      value: 0.8,
      text: `${label}: wirehouse (Bun) ≥ 0.8× Bun.serve websocket`,
    });
    out.push({
      scenario: id,
      metric: "msgs",
      server: "wirehouse-deno",
      peer: "deno-ws",
      op: ">=",
      value: 0.8,
      text: `${label}: wirehouse (Deno) ≥ 0.8× Deno.upgradeWebSocket`,
    });
  }
  if (has("connect-10k")) {
    out.push({
      scenario: "connect-10k",
      metric: "conns",
      server: "wirehouse-node",
      peer: "ws-node",
      op: ">=",
      value: 2,
      text: "connection rate: wirehouse (Node) ≥ 2× ws (Node)",
    });
    out.push({
      scenario: "connect-10k",
      metric: "conns",
      server: "wirehouse-bun",
      peer: "bun-ws",
      op: ">=",
      value: 0.8,
      text: "connection rate: wirehouse (Bun) ≥ 0.8× Bun.serve websocket",
    });
    out.push({
      scenario: "connect-10k",
      metric: "conns",
      server: "wirehouse-deno",
      peer: "deno-ws",
      op: ">=",
      value: 0.8,
      text: "connection rate: wirehouse (Deno) ≥ 0.8× Deno.upgradeWebSocket",
    });
    out.push({
      scenario: "connect-10k",
      metric: "bytes",
      server: "wirehouse-node",
      peer: "ws-node",
      op: "<=",
      value: 0.4,
      text: "memory per idle connection: wirehouse (Node) ≤ 40% of ws (Node)",
    });
    out.push({
      scenario: "connect-10k",
      metric: "bytes",
      server: "wirehouse-bun",
      op: "<=",
      value: 2000,
      text: "memory per idle connection: wirehouse (Bun) ≤ 2,000 B",
    });
    out.push({
      scenario: "connect-10k",
      metric: "bytes",
      server: "wirehouse-deno",
      peer: "deno-ws",
      op: "<=",
      value: 0.5,
      text: "memory per idle connection: wirehouse (Deno) ≤ 0.5× Deno.upgradeWebSocket",
    });
  }
  if (has("broadcast-1k")) {
    out.push({
      scenario: "broadcast-1k",
      metric: "msgs",
      server: "wirehouse-bun",
      peer: "bun-ws",
      op: ">=",
      value: 0.8,
      text: "broadcast: wirehouse (Bun) ≥ 0.8× Bun.serve publish",
    });
  }
  if (has("page-20")) {
    out.push({
      scenario: "page-20",
      metric: "reqs",
      server: "wirehouse-page-node",
      op: ">=",
      value: 2000,
      text: "page script: wirehouse (Node) ≥ 2,000 req/s",
    });
    out.push({
      scenario: "page-20",
      metric: "reqs",
      server: "wirehouse-page-node",
      peer: "ejs-node",
      op: ">=",
      value: 0.25,
      text: "page script: wirehouse (Node) ≥ 25% of EJS on node:http",
    });
  }
  if (has("script-echo-32")) {
    for (const r of RUNTIMES) {
      const name = r === "node" ? "Node" : r === "deno" ? "Deno" : "Bun";
      out.push({
        scenario: "script-echo-32",
        metric: "msgs",
        server: `wirehouse-script-${r}`,
        peer: `wirehouse-${r}`,
        op: ">=",
        value: 0.5,
        text: `websocket-script echo: wirehouse (${name}) ≥ 50% of the TypeScript-handler echo (${name})`,
      });
    }
  }
  if (has("php")) {
    out.push({
      scenario: "php",
      metric: "reqs",
      server: "wirehouse-php-fastcgi-node",
      peer: "nginx-php",
      op: ">=",
      value: 0.8,
      text: "PHP via FastCGI: wirehouse (Node) ≥ 80% of nginx + the same php-fpm pool",
    });
  }
  for (const tool of ["autocannon", "wrk"]) {
    const id = `static-4k-${tool}`;
    if (!has(id)) continue;
    out.push({
      scenario: id,
      metric: "reqs",
      server: "wirehouse-http-node",
      peer: "node-http",
      op: ">=",
      value: 1,
      text: `static 4 KiB (${tool}): wirehouse (Node) ≥ node:http`,
    });
    out.push({
      scenario: id,
      metric: "reqs",
      server: "wirehouse-http-node",
      peer: "nginx",
      op: ">=",
      value: 0.5,
      text: `static 4 KiB (${tool}): wirehouse (Node) ≥ 0.5× nginx (1 worker)`,
    });
    out.push({
      scenario: id,
      metric: "reqs",
      server: "wirehouse-http-bun",
      peer: "bun-http",
      op: ">=",
      value: 0.8,
      text: `static 4 KiB (${tool}): wirehouse (Bun) ≥ 0.8× Bun.serve`,
    });
    out.push({
      scenario: id,
      metric: "reqs",
      server: "wirehouse-http-deno",
      peer: "deno-http",
      op: ">=",
      value: 0.8,
      text: `static 4 KiB (${tool}): wirehouse (Deno) ≥ 0.8× Deno.serve`,
    });
  }
  // The same targets on the rates per server CPU-second: on a shared machine, or where the load generator's
  // one core caps the rate (Bun.serve's echo, every fast server's connection set-up), these still compare.
  for (const t of [...out]) {
    if (t.metric !== "msgs" && t.metric !== "conns") continue;
    if (!/^(script-)?echo-/.test(t.scenario) && t.scenario !== "connect-10k") continue;
    out.push({
      ...t,
      metric: t.metric === "msgs" ? "msgsPerCore" : "connsPerCore",
      text: `${t.text}, per server CPU-second`,
    });
  }
  return out;
}
