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
import { type FixtureName, findCommand, fixtureUnavailable } from "./fixtures.ts";
import { compiledBinary } from "./native-build.ts";

export type Runtime = "node" | "deno" | "bun" | "native";

export interface ServerSpec {
  /** Stable id used in results and targets, e.g. "ws-node". */
  id: string;
  /** What the table shows. */
  label: string;
  runtime: Runtime;
  /** "ws": echo at any path and the broadcast contract at /broadcast; "http": GET /4k and /256k. */
  kind: "ws" | "http";
  /**
   * Script path relative to the repository root (runtime servers), or for native servers the program
   * (on PATH) or a C source relative to the root (compiled by the harness, see native-build.ts).
   */
  script: string;
  /** Extra arguments after the script; the harness appends `--port N`. */
  args?: string[];
  /** Serves the /broadcast contract (every message to every client on /broadcast, sender included). */
  broadcast?: boolean;
  /** Part of wirehouse (rows that carry targets). */
  wirehouse?: boolean;
  /** Fixtures the harness starts first (php-fpm, redis-server); `args` may name their values as `{key}`. */
  needs?: FixtureName[];
  /** Other programs it needs (e.g. php-cgi): missing ones skip the row with the reason. */
  requires?: string[];
  /** Processes started side by side (each on its own port); the load spreads its connections over them. */
  instances?: number;
  /** nginx rows: which site the harness writes (static bodies, or PHP through the php fixture's pool). */
  nginx?: "static" | "php";
  /** HTTP scenarios: connections for this row instead of the scenario's (stated in the label). */
  httpConnections?: number;
  /** HTTP scenarios: put before the scenario's path (a server that serves it under a prefix). */
  pathPrefix?: string;
  /** Workspace packages the script imports (resolved to their dist/: they must be built). */
  packages?: string[];
}

/** What each wirehouse server script imports from the workspace (and what those import in turn). */
const SERVER_PACKAGES = ["server", "codec", "handshake", "router", "transport"];
const PACKAGES: Record<string, string[]> = {
  "benchmarks/servers/wirehouse-ws.ts": [...SERVER_PACKAGES, "pubsub-redis"],
  "benchmarks/servers/wirehouse-http.ts": SERVER_PACKAGES,
  "benchmarks/servers/wirehouse-site.ts": [...SERVER_PACKAGES, "app", "sandbox", "static", "cgi", "pubsub-redis"],
  "benchmarks/servers/wirehouse-php.ts": [...SERVER_PACKAGES, "cgi"],
};

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
/** The wirehouse app (`wirehouse serve`) serving a site folder: page scripts and websocket scripts. */
export const WIREHOUSE_SITE = "benchmarks/servers/wirehouse-site.ts";
/** The benchmark site: /shop.sjs (20-item loop) and the /echo websocket script. */
export const SCRIPTED_SITE = "benchmarks/sites/scripted/settings.js";
/**
 * @wirehouse/server + @wirehouse/cgi serving the php fixture's page (`--root DIR`): `/fcgi/<script>` through
 * the php-fpm pool at `--fastcgi ADDRESS`, `/cgi/<script>` through `--php-cgi BIN` (a process per request).
 */
export const WIREHOUSE_PHP = "benchmarks/servers/wirehouse-php.ts";
/**
 * The echo floors: servers that answer the load generator with no WebSocket work at all (a fixed 101,
 * frames echoed unmasked), so a run shows how much of wirehouse's cost is the kernel's and the runtime's.
 */
export const FLOOR_NATIVE = "benchmarks/servers/floor.c";
export const FLOOR_TRANSPORT = "benchmarks/servers/floor-transport.ts";

const RUNTIME_NAME = { node: "Node", deno: "Deno", bun: "Bun" } as const;
/** Connections for the CGI row: a process per request, so fewer keep a 2-core machine responsive. */
export const CGI_CONNECTIONS = 16;

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
    // The floors (echo only): the kernel's (C, epoll) and each runtime's (@wirehouse/transport alone).
    {
      id: "floor-native",
      label: "floor: C epoll, no WebSocket work",
      runtime: "native",
      kind: "ws",
      script: FLOOR_NATIVE,
    },
    ...(["node", "deno", "bun"] as const).map(
      (runtime): ServerSpec => ({
        id: `floor-${runtime}`,
        label: `floor: transport alone (${RUNTIME_NAME[runtime]})`,
        runtime,
        kind: "ws",
        script: FLOOR_TRANSPORT,
        packages: ["transport"],
      }),
    ),
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
    { id: "nginx", label: "nginx (1 worker)", runtime: "native", kind: "http", script: "nginx", nginx: "static" },
    // Page scripts (issue 7): the app rendering /shop.sjs in a fresh QuickJS context per request, next to EJS.
    ...(["node", "deno", "bun"] as const).map(
      (runtime): ServerSpec => ({
        id: `wirehouse-page-${runtime}`,
        label: `wirehouse page script (${RUNTIME_NAME[runtime]})`,
        runtime,
        kind: "http",
        script: WIREHOUSE_SITE,
        args: ["--config", SCRIPTED_SITE],
        wirehouse: true,
      }),
    ),
    {
      id: "ejs-node",
      label: "EJS 3 on node:http",
      runtime: "node",
      kind: "http",
      script: "benchmarks/servers/ejs-http.mjs",
    },
    // Websocket scripts (issue 7): the app's /echo script, next to the TypeScript-handler echo (wirehouse-<runtime>).
    ...(["node", "deno", "bun"] as const).map(
      (runtime): ServerSpec => ({
        id: `wirehouse-script-${runtime}`,
        label: `wirehouse websocket script (${RUNTIME_NAME[runtime]})`,
        runtime,
        kind: "ws",
        script: WIREHOUSE_SITE,
        args: ["--config", SCRIPTED_SITE],
        wirehouse: true,
      }),
    ),
    // PHP (issue 8): one php-fpm pool (the php fixture) behind nginx and behind wirehouse; php-cgi per request.
    {
      id: "nginx-php",
      label: "nginx (1 worker) + php-fpm",
      runtime: "native",
      kind: "http",
      script: "nginx",
      nginx: "php",
      needs: ["php"],
    },
    ...(["node", "deno", "bun"] as const).map(
      (runtime): ServerSpec => ({
        id: `wirehouse-php-fastcgi-${runtime}`,
        label: `wirehouse FastCGI + php-fpm (${RUNTIME_NAME[runtime]})`,
        runtime,
        kind: "http",
        script: WIREHOUSE_PHP,
        args: ["--root", "{phpRoot}", "--fastcgi", "{fpm}"],
        pathPrefix: "/fcgi",
        needs: ["php"],
        wirehouse: true,
      }),
    ),
    {
      id: "wirehouse-php-cgi-node",
      label: `wirehouse CGI, php-cgi per request (Node, ${CGI_CONNECTIONS} connections)`,
      runtime: "node",
      kind: "http",
      script: WIREHOUSE_PHP,
      // --fastcgi too: without it the script would start a php-fpm of its own.
      args: ["--root", "{phpRoot}", "--fastcgi", "{fpm}", "--php-cgi", "{phpCgi}"],
      pathPrefix: "/cgi",
      needs: ["php"],
      requires: ["php-cgi"],
      httpConnections: CGI_CONNECTIONS,
      wirehouse: true,
    },
    // Broadcast across instances (issue 10): two wirehouse-ws.ts processes relaying through the redis fixture.
    ...(["node", "deno", "bun"] as const).map(
      (runtime): ServerSpec => ({
        id: `wirehouse-redis-${runtime}`,
        label: `wirehouse, 2 instances via Redis (${RUNTIME_NAME[runtime]})`,
        runtime,
        kind: "ws",
        script: WIREHOUSE_BROADCAST,
        args: ["--redis", "{redis}"],
        needs: ["redis"],
        instances: 2,
        broadcast: true,
        wirehouse: true,
      }),
    ),
  ];
}

/** Replaces `{key}` in each argument with the fixtures' values; an unknown key is an error. */
export function fillArgs(args: readonly string[], vars: Record<string, string>): string[] {
  return args.map((a) =>
    a.replace(/\{(\w+)\}/g, (_, k: string) => {
      const v = vars[k];
      if (v === undefined) throw new Error(`no value for {${k}} (is its fixture running?)`);
      return v;
    }),
  );
}

/** The binary of each runtime: node itself, and Bun and Deno from the npm packages (native binaries, so the pid is the server). */
export function runtimeBinary(runtime: Runtime): string {
  if (runtime === "node") return process.versions.bun || "Deno" in globalThis ? "node" : process.execPath;
  if (runtime === "bun") return join(repoRoot, "node_modules", ".bin", "bun");
  if (runtime === "deno") return join(repoRoot, "node_modules", ".bin", "deno");
  return "";
}

/** The argv that starts `spec` on `port` (without pinning). */
export function serverCommand(
  spec: ServerSpec,
  port: number,
  nginxConf?: string,
  vars: Record<string, string> = {},
): string[] {
  const args = fillArgs(spec.args ?? [], vars);
  if (spec.runtime === "native") {
    if (spec.script === "nginx") return ["nginx", "-p", join(nginxConf!, ".."), "-c", nginxConf!];
    const program = spec.script.endsWith(".c") ? compiledBinary(join(repoRoot, spec.script)) : spec.script;
    return [program, ...args, "--port", String(port)];
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
  return [runtimeBinary(spec.runtime), ...flags, script, ...args, "--port", String(port)];
}

/** Why a server cannot run here, or undefined when it can. */
export function unavailable(
  spec: ServerSpec,
  hasCommand: (name: string) => boolean,
  find: (name: string) => string | undefined = findCommand,
): string | undefined {
  if (spec.runtime === "native" && spec.script.endsWith(".c")) {
    if (!hasCommand("cc")) return "cc not installed (a C compiler builds it)";
  } else if (spec.runtime === "native" && !hasCommand(spec.script)) return `${spec.script} not installed`;
  if (spec.runtime !== "native" && !existsSync(join(repoRoot, spec.script))) return `${spec.script} not written yet`;
  const unbuilt = (spec.packages ?? PACKAGES[spec.script] ?? []).filter(
    (p) => !existsSync(join(repoRoot, "node_modules", "@wirehouse", p, "dist", "index.js")),
  );
  if (unbuilt.length)
    return `${unbuilt.map((p) => `@wirehouse/${p}`).join(", ")} not built (npx turbo run build --filter=@wirehouse/app...)`;
  for (const f of spec.needs ?? []) {
    const why = fixtureUnavailable(f, find);
    if (why) return why;
  }
  const missing = (spec.requires ?? []).filter((c) => !hasCommand(c) && !find(c));
  if (missing.length) return `${missing.join(", ")} not installed`;
  return undefined;
}
