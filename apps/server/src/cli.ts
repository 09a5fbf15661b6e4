/**
 * The `wirehouse` command: serve, init, --help, --version. Runs unchanged on
 * Node (built or through tsx), Deno and Bun.
 */
import { existsSync, mkdirSync, readdirSync, watch, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { App } from "./app.ts";
import { ConfigError, checkRedisUrl, type ResolvedConfig, resolveConfig, STATUS_ALLOW_DEFAULT } from "./config.ts";
import { RELAY_ENV } from "./pubsub.ts";
import { loadSettings } from "./settings.ts";
import { redactUrl, runtimeName, VERSION } from "./status.ts";
import type { Primary } from "./workers.ts";

export { VERSION } from "./status.ts";

export const HELP = `wirehouse ${VERSION} — a scriptable web and WebSocket server

Usage:
  wirehouse serve [--config settings.js] [--host H] [--port N] [--workers N] [--redis URL] [--status PATH] [--dev]
  wirehouse init <dir>
  wirehouse --help | --version

serve     Start the server. Without --config (and without ./settings.js) it
          serves the embedded default site on http://localhost:8080.
  --config F    settings file (JS or TS): export default defineConfig({...})
                or export default function (server) {...}
  --host H      bind address for the first listener (default 0.0.0.0)
  --port N      port for the first listener (default 8080)
  --workers N   worker processes sharing the port; topics and websocket-script
                broadcasts are relayed between them by the primary (in-host
                relay on a loopback socket, no Redis needed)
  --redis URL   relay topics and websocket-script broadcasts through Redis
                (redis://host:port), across processes and machines; same as
                pubsub: { redis } in settings.js
  --status PATH answer GET PATH (any host, loopback clients only) with JSON:
                connections, websocket-script clients here and across
                instances, pub/sub state and counters; same as status in
                settings.js
  --dev         development mode: error details in pages
init      Scaffold a site (web/index.sjs, web/chat.html, scripts/chat.js,
          settings.js) in <dir>.

Signals: SIGHUP reloads settings.js (also reloaded when the file changes);
SIGINT/SIGTERM stop gracefully.
`;

/** The embedded default site's folder (apps/server/default-site). */
export function defaultSiteRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/cli.ts and dist/cli.js are both one level below the package root.
  return resolve(here, "..", "default-site");
}

export function defaultConfig(): ResolvedConfig {
  return resolveConfig(
    {
      listeners: [{ port: 8080 }],
      sites: {
        default: {
          root: defaultSiteRoot(),
          websockets: { "/echo": "@echo", "/chat": "chat.js" },
        },
      },
    },
    "(embedded default site)",
    defaultSiteRoot(),
  );
}

export interface ServeArgs {
  config?: string;
  host?: string;
  port?: number;
  workers?: number;
  redis?: string;
  status?: string;
  dev: boolean;
}

export class UsageError extends Error {}

export function parseServeArgs(argv: string[]): ServeArgs {
  const out: ServeArgs = { dev: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] =
      a.startsWith("--") && a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith("--")))
        throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const num = (min: number, max: number): number => {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min || n > max)
        throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got "${v}"`);
      return n;
    };
    switch (flag) {
      case "--config":
      case "-c":
        out.config = value();
        break;
      case "--host":
        out.host = value();
        break;
      case "--port":
      case "-p":
        out.port = num(0, 65535);
        break;
      case "--workers":
        out.workers = num(1, 256);
        break;
      case "--redis": {
        const v = value();
        const problem = checkRedisUrl(v);
        if (problem) throw new UsageError(`--redis: ${problem}`);
        out.redis = v;
        break;
      }
      case "--status": {
        const v = value();
        if (!v.startsWith("/")) throw new UsageError(`--status: expected a path starting with "/", got "${v}"`);
        out.status = v;
        break;
      }
      case "--dev":
        out.dev = true;
        break;
      default:
        throw new UsageError(`unknown option "${a}" (see wirehouse --help)`);
    }
  }
  return out;
}

/** Loads the config for `serve`: --config, else ./settings.js if present, else the embedded site; applies the flags. */
export async function configFor(args: ServeArgs, cwd = process.cwd()): Promise<ResolvedConfig> {
  let file = args.config;
  if (file === undefined) {
    for (const name of ["settings.js", "settings.ts", "settings.mjs"])
      if (existsSync(join(cwd, name))) {
        file = join(cwd, name);
        break;
      }
  }
  const config = file === undefined ? defaultConfig() : await loadSettings(resolve(cwd, file));
  return applyFlags(config, args);
}

export function applyFlags(config: ResolvedConfig, args: ServeArgs): ResolvedConfig {
  const listeners = config.listeners.map((l) => ({ ...l }));
  const first = listeners[0];
  if (first) {
    if (args.port !== undefined) first.port = args.port;
    if (args.host !== undefined) first.host = args.host;
  }
  return {
    ...config,
    listeners,
    workers: args.workers ?? config.workers,
    pubsub: args.redis !== undefined ? { ...config.pubsub, redis: args.redis } : config.pubsub,
    status:
      args.status !== undefined
        ? { path: args.status, allow: config.status?.allow ?? [...STATUS_ALLOW_DEFAULT] }
        : config.status,
    dev: args.dev || config.dev,
  };
}

type Out = { out: (s: string) => void; err: (s: string) => void };
const stdio: Out = { out: (s) => console.log(s), err: (s) => console.error(s) };

/** Runs the command line; resolves with the exit code (serve resolves with a running App). */
export async function main(argv: string[], io: Out = stdio): Promise<number | App | Primary> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
      io.out(HELP);
      return 0;
    }
    if (cmd === "--version" || cmd === "-v" || cmd === "version") {
      io.out(`wirehouse ${VERSION}`);
      return 0;
    }
    if (cmd === "init") {
      if (rest.length !== 1 || rest[0]?.startsWith("-")) throw new UsageError("usage: wirehouse init <dir>");
      const dir = resolve(rest[0] as string);
      init(dir);
      io.out(`created a site in ${dir}\nstart it with: wirehouse serve --config ${join(dir, "settings.js")}`);
      return 0;
    }
    if (cmd === "serve") return await serve(parseServeArgs(rest), io);
    throw new UsageError(`unknown command "${cmd}" (see wirehouse --help)`);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      io.err(`wirehouse: ${e.message}`);
      return 2;
    }
    io.err(`wirehouse: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}

export async function serve(args: ServeArgs, io: Out = stdio): Promise<App | Primary> {
  const config = await configFor(args);
  if (config.workers > 1) {
    const { runWorkers } = await import("./workers.ts");
    return runWorkers(config.workers, ({ index, reusePort }) => startApp(config, args, io, { index, reusePort }), io, {
      relay: !config.pubsub.redis,
    });
  }
  return startApp(config, args, io);
}

async function startApp(
  config: ResolvedConfig,
  args: ServeArgs,
  io: Out,
  worker?: { index: number; reusePort: boolean },
): Promise<App> {
  // A worker without Redis: the primary's in-host relay, whose address the primary put in the environment.
  const relay = worker !== undefined && !config.pubsub.redis ? process.env[RELAY_ENV] : undefined;
  const app = new App(config, {
    log: io.out,
    ...(relay ? { relay } : {}),
    ...(worker ? { worker: worker.index } : {}),
    ...(worker?.reusePort ? { reusePort: true } : {}),
    ...(config.file === "(embedded default site)" ? { persistStorage: false } : {}),
  });
  const bound = await app.start();
  let text = banner(
    config,
    bound.map((b) => b.url),
  );
  if (app.pubsub)
    text += `\npubsub: ${app.pubsub.kind === "redis" ? `Redis ${redactUrl(config.pubsub.redis ?? "")}` : `in-host relay via the primary (${relay?.replace(/\/.*/, "")})`}`;
  else if (worker) text += "\npubsub: this worker only (no relay address from the primary)";
  if (config.status) text += `\nstatus: ${config.status.path} (JSON, for ${config.status.allow.join(", ")})`;
  io.out(worker ? `[worker ${worker.index}, pid ${process.pid}] ${text}` : text);
  installSignals(app, args, io);
  return app;
}

export function banner(config: ResolvedConfig, urls: string[]): string {
  const lines = [`wirehouse ${VERSION} on ${runtimeName()}, @wirehouse/server${config.dev ? " (dev mode)" : ""}`];
  lines.push(`config: ${config.file}`);
  for (const s of config.sites)
    lines.push(
      `site ${s.name}${s.default ? " (default)" : ""}: ${s.hosts.length ? s.hosts.join(", ") : "any host"} -> ${s.root}`,
    );
  for (const u of urls) lines.push(`listening on ${u}`);
  return lines.join("\n");
}

function installSignals(app: App, args: ServeArgs, io: Out): void {
  const file = app.configFile;
  let reloading = false;
  const reload = async (why: string) => {
    if (!file || reloading) return;
    reloading = true;
    try {
      const next = applyFlags(await loadSettings(file), args);
      await app.reload(next);
      io.out(`reloaded ${file} (${why})`);
    } catch (e) {
      io.err(`wirehouse: reload failed, keeping the running configuration: ${(e as Error).message}`);
    } finally {
      reloading = false;
    }
  };
  const stop = async () => {
    io.out("shutting down");
    // Exit even if a connection does not let go.
    const force = setTimeout(() => process.exit(0), 3000);
    (force as { unref?(): void }).unref?.();
    await app.close();
    process.exit(0);
  };
  try {
    process.on("SIGHUP", () => void reload("SIGHUP"));
  } catch {}
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  if (file) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const w = watch(file, () => {
        clearTimeout(timer);
        timer = setTimeout(() => void reload("file changed"), 200);
      });
      (w as { unref?(): void }).unref?.();
    } catch {}
  }
}

const INIT_FILES: Record<string, string> = {
  "settings.js": `// wirehouse settings: trusted code run at start-up (see the wirehouse README).
// The object style; the same can be written as
//   export default function (server) { server.addListener({ port: 8080 }); const site = server.addSite("main", { root: "." }); site.addWebsocket("/chat", "chat.js"); server.setDefaultSite(site); }
export default {
  listeners: [{ port: 8080 }],
  sites: {
    main: {
      root: ".",
      websockets: { "/chat": "chat.js" },
      statusPages: { 404: "/404.html" },
    },
  },
};
`,
  "web/index.sjs": `<?js var visits = (storage.get("visits") || 0) + 1; storage.set("visits", visits); ?>
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>My wirehouse site</title></head>
<body>
<h1>Hello from a page script</h1>
<p>This page has been rendered <?= visits ?> time<?= visits === 1 ? "" : "s" ?>. Edit <code>web/index.sjs</code>.</p>
<p><a href="/chat.html">Chat</a></p>
</body>
</html>
`,
  "web/404.html": `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found</title></head>
<body><h1>Not found</h1><p><a href="/">Home</a></p></body></html>
`,
  "web/chat.html": `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Chat</title></head>
<body>
<h1>Chat</h1>
<pre id="log"></pre>
<form id="f"><input id="t" autocomplete="off"> <button>Send</button></form>
<script>
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat");
ws.onmessage = (e) => { document.getElementById("log").textContent += e.data + "\\n"; };
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); const t = document.getElementById("t"); ws.send(t.value); t.value = ""; };
</script>
</body>
</html>
`,
  "scripts/chat.js": `// A websocket script: runs in a sandbox on its own thread.
function onConnect(client) {
  broadcast("someone joined (" + clients().length + " here)");
}
function onMessage(client, data) {
  broadcast(String(data));
}
function onRequest(client) {
  client.redirect("/chat.html");
}
`,
};

/** Scaffolds a site folder; refuses a non-empty directory. */
export function init(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`${dir} exists and is not empty`);
  for (const [name, content] of Object.entries(INIT_FILES)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}
