/**
 * PHP pages and websockets on one port: one @wirehouse/server, one site.
 *
 * - `*.php` under ./www run through @wirehouse/cgi: FastCGI to a php-fpm this
 *   example starts itself (temporary config, Unix socket in a temporary
 *   directory), or one php-cgi process per request with `--cgi`.
 * - `/chat` is a websocket endpoint; every socket subscribes to the topic "chat".
 * - `POST /internal/publish` (loopback peers only) publishes a JSON message to "chat".
 *   post.php calls it with the URL the example hands to PHP as CHAT_PUBLISH_URL.
 * - `/chat.html` is the browser client page.
 *
 *   node --import tsx examples/php-chat/main.ts --port 8080 --host 127.0.0.1 [--cgi]
 *   npx deno run -A examples/php-chat/main.ts --port 8080
 *   npx bun examples/php-chat/main.ts --port 8080
 *
 * php-fpm / php-cgi are looked up on PATH and in /usr/sbin (override with
 * WIREHOUSE_PHP_FPM / WIREHOUSE_PHP_CGI). Prints `ready port=N pid=P`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type CgiResult, createGateway } from "@wirehouse/cgi";
import { createServer, type ServerRequest } from "@wirehouse/server";
import { closeOnSignal, parseFlags } from "../args.ts";

const { port, host } = parseFlags(8080);
const useCgi = process.argv.includes("--cgi");
const www = join(dirname(fileURLToPath(import.meta.url)), "www");

function findBin(match: (name: string) => boolean, extraDirs: string[]): string | null {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...extraDirs]) {
    if (!dir || !existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (!match(name)) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {}
    }
  }
  return null;
}

const tmp = mkdtempSync(join(tmpdir(), "wirehouse-php-chat-"));
let fpm: ChildProcess | null = null;
let cleaned = false;
/** Stops php-fpm and removes the temporary directory (idempotent, synchronous). */
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  if (fpm !== null && fpm.exitCode === null && fpm.signalCode === null) fpm.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}
process.on("exit", cleanup);

/** Starts php-fpm in the foreground on a Unix socket in `tmp`; resolves with the socket path once it is ready. */
async function startFpm(): Promise<string> {
  const bin =
    process.env.WIREHOUSE_PHP_FPM ??
    findBin((n) => n === "php-fpm" || /^php-fpm\d/.test(n), ["/usr/sbin", "/usr/local/sbin"]);
  if (bin === null)
    throw new Error("php-fpm not found: install Debian's php-fpm, set WIREHOUSE_PHP_FPM, or run with --cgi");
  const socket = join(tmp, "fpm.sock");
  const conf = join(tmp, "php-fpm.conf");
  writeFileSync(
    conf,
    `[global]
error_log = ${join(tmp, "php-fpm.log")}
daemonize = no
[chat]
listen = ${socket}
pm = static
pm.max_children = 4
catch_workers_output = yes
decorate_workers_output = no
clear_env = yes
`,
  );
  const args = ["-F", "-O", "-y", conf, "-p", tmp];
  if (process.getuid?.() === 0) args.push("-R");
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  fpm = child;
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const onData = (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      if (out.includes("ready to handle connections")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("error", (e) => reject(new Error(`php-fpm (${bin}) failed to start: ${e.message}`)));
    child.on("exit", (code) => reject(new Error(`php-fpm (${bin}) exited with code ${code}: ${out}`)));
  });
  child.stdout?.removeAllListeners("data");
  child.stderr?.removeAllListeners("data");
  child.stderr?.on("data", (d: Uint8Array) => process.stderr.write(d));
  child.on("exit", (code, signal) => {
    if (cleaned) return;
    console.error(`php-fpm exited (${code ?? signal}); stopping`);
    process.exit(1);
  });
  return socket;
}

function phpCgiBin(): string {
  const bin = process.env.WIREHOUSE_PHP_CGI ?? findBin((n) => n === "php-cgi" || /^php-cgi\d/.test(n), ["/usr/bin"]);
  if (bin === null) throw new Error("php-cgi not found: install Debian's php-cgi or set WIREHOUSE_PHP_CGI");
  return bin;
}

function isLoopback(address: string): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}

const server = createServer({ onError: (e, where) => console.error(where, e) });
const gateway = createGateway({ log: (level, msg) => console.error(`[php ${level}] ${msg}`) });

// Websocket clients: everyone on "chat" receives what post.php publishes.
server.websocket("/chat", {
  open(ws) {
    ws.subscribe("chat");
  },
});

// Internal endpoint PHP calls; only loopback peers may publish.
server.http(
  "/internal/publish",
  async (req) => {
    if (!isLoopback(req.remoteAddress)) return { status: 403, body: "loopback only\n" };
    let msg: unknown;
    try {
      msg = await req.json();
    } catch {
      return { status: 400, body: "JSON body expected\n" };
    }
    const { from, text } = (msg ?? {}) as { from?: unknown; text?: unknown };
    if (typeof text !== "string" || text === "" || text.length > 4000) return { status: 400, body: "text required\n" };
    server.publish("chat", JSON.stringify({ from: typeof from === "string" ? from.slice(0, 100) : "anonymous", text }));
    return { status: 204 };
  },
  { methods: ["POST"] },
);

// The browser client page.
const clientPage = readFileSync(join(www, "chat.html"));
server.http("/chat.html", () => ({ headers: { "content-type": "text/html; charset=utf-8" }, body: clientPage }));

let fpmSocket: string | null = null;
try {
  if (!useCgi) fpmSocket = await startFpm();
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
const address = await server.listen({ port, hostname: host });
const internalHost = host.includes(":") ? "[::1]" : "127.0.0.1";
// The URL post.php calls, handed to PHP as a FastCGI param / CGI variable.
const vars = { CHAT_PUBLISH_URL: `http://${internalHost}:${address.port}/internal/publish` };
const php = gateway.site(
  fpmSocket === null
    ? { root: www, match: ".php", cgi: { bin: phpCgiBin(), env: vars }, timeoutMs: 10_000 }
    : { root: www, match: ".php", fastcgi: { address: fpmSocket, maxConnections: 4, params: vars }, timeoutMs: 10_000 },
);

// Everything else: PHP scripts (and "/" → index.php), else 404.
server.fallback(async (req: ServerRequest) => {
  if (!php.mayMatch(req.path)) return { status: 404, body: "not found\n" };
  let result: CgiResult = await php.handle({
    method: req.method,
    target: req.url,
    headers: [...req.headers],
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
    localPort: address.port,
    https: req.https,
    body: req.method === "GET" || req.method === "HEAD" ? null : req.bodyStream(),
  });
  // A local redirect (Location: /path without Status) is served as a GET of that path, at most 5 deep.
  for (let depth = 0; result.type === "local-redirect" && depth < 5; depth++) {
    result = await php.handle({
      method: "GET",
      target: result.location,
      headers: [...req.headers].filter(([k]) => !/^content-(length|type)$/i.test(k)),
      remoteAddress: req.remoteAddress,
      remotePort: req.remotePort,
      localPort: address.port,
      https: req.https,
      body: null,
    });
  }
  if (result.type === "error") return { status: result.status, body: `${result.message ?? "error"}\n` };
  if (result.type === "local-redirect") return { status: 500, body: "too many local redirects\n" };
  const headers = result.headers.slice();
  if (result.body.length !== null) headers.push(["content-length", String(result.body.length)]);
  if (req.method === "HEAD") {
    result.body.cancel();
    return { status: result.status, headers, body: null };
  }
  return { status: result.status, headers, body: result.body };
});

console.log(`ready port=${address.port} pid=${process.pid} mode=${fpmSocket === null ? "cgi" : "fastcgi"}`);
closeOnSignal(async () => {
  await server.close({ deadline: 2000 });
  await gateway.close();
  cleanup();
});
