/**
 * @module
 * The servers the harness starts: one row per server, a command (runtime +
 * script + args) that takes `--port N`. Adding a server is one row.
 *
 * wirehouse rows are in the table already and switch themselves on when their
 * script exists (see `WIREHOUSE_ECHO`): until packages/server and the echo
 * example are written, they are listed as "not available" and skipped.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export type Runtime = "node" | "deno" | "bun" | "native";

export interface ServerSpec {
  /** Stable id used in results and targets, e.g. "ws-node". */
  id: string;
  /** What the table shows. */
  label: string;
  runtime: Runtime;
  /** "ws": echo at any path and the broadcast contract at /broadcast; "http": GET /4k and /256k. */
  kind: "ws" | "http";
  /** Script path relative to the repository root (runtime servers) or the program (native). */
  script: string;
  /** Extra arguments after the script; the harness appends `--port N`. */
  args?: string[];
  /** Serves the /broadcast contract (every message to every client on /broadcast, sender included). */
  broadcast?: boolean;
  /** Part of wirehouse (rows that carry targets). */
  wirehouse?: boolean;
}

/** The repository root (benchmarks/..). */
export const repoRoot = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..");

/**
 * Where the harness looks for wirehouse's echo example (issue 6: `examples/echo`
 * with `--port N` and `--host H`, echoing text and binary as received). The
 * first that exists is used for every runtime.
 */
export const WIREHOUSE_ECHO = [
  "examples/echo/main.ts",
  "examples/echo/index.ts",
  "examples/echo/server.ts",
  "examples/echo/src/main.ts",
  "examples/echo/src/index.ts",
];
/** wirehouse's broadcast and static peers live here once written (same contracts as the other peers). */
export const WIREHOUSE_BROADCAST = "benchmarks/servers/wirehouse-ws.ts";
export const WIREHOUSE_STATIC = "benchmarks/servers/wirehouse-http.ts";

const firstExisting = (paths: string[]) => paths.find((p) => existsSync(join(repoRoot, p))) ?? paths[0]!;

/** Every server the suites know about. */
export function serverTable(): ServerSpec[] {
  const echo = firstExisting(WIREHOUSE_ECHO);
  const wirehouseWs = (runtime: "node" | "deno" | "bun"): ServerSpec => ({
    id: `wirehouse-${runtime}`,
    label: `wirehouse (${runtime === "node" ? "Node" : runtime === "deno" ? "Deno" : "Bun"})`,
    runtime,
    kind: "ws",
    // The echo example serves echo/idle/connect; broadcast uses a dedicated script once it exists.
    script: existsSync(join(repoRoot, WIREHOUSE_BROADCAST)) ? WIREHOUSE_BROADCAST : echo,
    broadcast: existsSync(join(repoRoot, WIREHOUSE_BROADCAST)),
    wirehouse: true,
  });
  return [
    // WebSocket: echo at any path, /broadcast fan-out.
    ...(["node", "deno", "bun"] as const).map(wirehouseWs),
    {
      id: "ws-node",
      label: "ws 8 (Node)",
      runtime: "node",
      kind: "ws",
      script: "benchmarks/servers/ws.mjs",
      broadcast: true,
    },
    {
      id: "ws-deno",
      label: "ws 8 (Deno)",
      runtime: "deno",
      kind: "ws",
      script: "benchmarks/servers/ws.mjs",
      broadcast: true,
    },
    {
      id: "ws-bun",
      label: "ws 8 npm code (Bun)",
      runtime: "bun",
      kind: "ws",
      script: "benchmarks/servers/ws.mjs",
      args: ["--npm-ws"],
      broadcast: true,
    },
    {
      id: "ws-shim-bun",
      label: "ws API, Bun's built-in shim",
      runtime: "bun",
      kind: "ws",
      script: "benchmarks/servers/ws.mjs",
      broadcast: true,
    },
    {
      id: "bun-ws",
      label: "Bun.serve websocket",
      runtime: "bun",
      kind: "ws",
      script: "benchmarks/servers/bun-ws.ts",
      broadcast: true,
    },
    {
      id: "deno-ws",
      label: "Deno.upgradeWebSocket",
      runtime: "deno",
      kind: "ws",
      script: "benchmarks/servers/deno-ws.ts",
      broadcast: true,
    },
    // Static: GET /4k and /256k from memory.
    ...(["node", "deno", "bun"] as const).map(
      (runtime): ServerSpec => ({
        id: `wirehouse-http-${runtime}`,
        label: `wirehouse static (${runtime === "node" ? "Node" : runtime === "deno" ? "Deno" : "Bun"})`,
        runtime,
        kind: "http",
        script: WIREHOUSE_STATIC,
        wirehouse: true,
      }),
    ),
    { id: "node-http", label: "node:http", runtime: "node", kind: "http", script: "benchmarks/servers/node-http.mjs" },
    { id: "bun-http", label: "Bun.serve", runtime: "bun", kind: "http", script: "benchmarks/servers/bun-http.ts" },
    { id: "deno-http", label: "Deno.serve", runtime: "deno", kind: "http", script: "benchmarks/servers/deno-http.ts" },
    { id: "nginx", label: "nginx (1 worker)", runtime: "native", kind: "http", script: "nginx" },
  ];
}

/** The binary of each runtime: node itself, and Bun and Deno from the npm packages (native binaries, so the pid is the server). */
export function runtimeBinary(runtime: Runtime): string {
  if (runtime === "node") return process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
  if (runtime === "bun") return join(repoRoot, "node_modules", ".bin", "bun");
  if (runtime === "deno") return join(repoRoot, "node_modules", ".bin", "deno");
  return "";
}

/** The argv that starts `spec` on `port` (without pinning). */
export function serverCommand(spec: ServerSpec, port: number, nginxConf?: string): string[] {
  if (spec.runtime === "native") {
    if (spec.script === "nginx") return ["nginx", "-p", join(nginxConf!, ".."), "-c", nginxConf!];
    return [spec.script, ...(spec.args ?? []), "--port", String(port)];
  }
  const script = join(repoRoot, spec.script);
  const flags =
    spec.runtime === "node"
      ? script.endsWith(".ts")
        ? ["--import", "tsx"]
        : []
      : spec.runtime === "deno"
        ? ["run", "-A"]
        : [];
  return [runtimeBinary(spec.runtime), ...flags, script, ...(spec.args ?? []), "--port", String(port)];
}

/** Why a server cannot run here, or undefined when it can. */
export function unavailable(spec: ServerSpec, hasCommand: (name: string) => boolean): string | undefined {
  if (spec.runtime === "native") return hasCommand(spec.script) ? undefined : `${spec.script} not installed`;
  if (!existsSync(join(repoRoot, spec.script))) return `${spec.script} not written yet`;
  return undefined;
}
