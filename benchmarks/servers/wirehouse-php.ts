// wirehouse PHP server for the benchmarks: @wirehouse/server + @wirehouse/cgi.
//   node --import tsx benchmarks/servers/wirehouse-php.ts --port 8080 (or npx deno run -A / npx bun)
//     [--fastcgi /path/fpm.sock | host:port]  php-fpm to use (the same pool nginx uses); without it the
//                                             script starts its own php-fpm (pm static, --fpm-children 4)
//     [--root DIR]                            document root holding hello.php; without it a temporary
//                                             root with the page below is written
//     [--max-connections N] [--pipeline N] [--keepalive 0] [--php-cgi BIN] [--host H]
//     [--cgi-cpus LIST]   run php-cgi under `taskset -c LIST` (it would inherit this server's pinning)
// GET /fcgi/<script>.php -> the script under the root via FastCGI (php-fpm),
// GET /cgi/<script>.php  -> the same script via CGI (one php-cgi per request);
// e.g. /fcgi/hello.php and /cgi/hello.php. Anything else 404.
// Prints `ready port=<port> pid=<pid>` once listening; SIGINT/SIGTERM stop it (and its own php-fpm).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type CgiResult, type CgiSiteHandler, createGateway } from "@wirehouse/cgi";
import { createServer, type ServerRequest } from "@wirehouse/server";

/** The small page of the PHP benchmarks (packages/cgi/bench/php.ts writes the same one for nginx). */
export const HELLO_PHP = `<?php
header("Content-Type: text/html; charset=utf-8");
$name = htmlspecialchars($_GET["name"] ?? "world");
echo "<!doctype html><title>hello</title><p>Hello, $name! ", date("Y-m-d"), "</p>\\n";
`;

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? String(process.argv[i + 1]) : fallback;
};

function findBin(names: string[], dirs: string[]): string | null {
  for (const d of [...(process.env.PATH ?? "").split(":"), ...dirs]) {
    if (!d || !existsSync(d)) continue;
    for (const e of readdirSync(d).sort()) {
      if (names.some((n) => e === n || (e.startsWith(n) && /^\d/.test(e.slice(n.length))))) return join(d, e);
    }
  }
  return null;
}

let tmp: string | null = null;
let fpm: ChildProcess | null = null;
const tempDir = () => {
  tmp ??= mkdtempSync(join(tmpdir(), "wirehouse-php-"));
  return tmp;
};
const cleanup = () => {
  if (fpm !== null && fpm.exitCode === null && fpm.signalCode === null) fpm.kill("SIGTERM");
  fpm = null;
  if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  tmp = null;
};
process.on("exit", cleanup);

const children = Number(arg("fpm-children", "4"));
let root = arg("root");
if (root === undefined) {
  root = join(tempDir(), "www");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "hello.php"), HELLO_PHP);
}

async function startFpm(): Promise<string> {
  const bin = process.env.WIREHOUSE_PHP_FPM ?? findBin(["php-fpm"], ["/usr/sbin"]);
  if (bin === null) throw new Error("php-fpm not found (Debian package php-fpm); or pass --fastcgi ADDRESS");
  const dir = tempDir();
  const sock = join(dir, "fpm.sock");
  writeFileSync(
    join(dir, "php-fpm.conf"),
    `[global]\nerror_log = ${join(dir, "fpm.log")}\ndaemonize = no\n[www]\nlisten = ${sock}\npm = static\npm.max_children = ${children}\n`,
  );
  const argv = ["-F", "-O", "-y", join(dir, "php-fpm.conf"), "-p", dir];
  if (process.getuid?.() === 0) argv.push("-R");
  const child = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"] });
  fpm = child;
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const on = (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      if (out.includes("ready to handle connections")) resolve();
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`php-fpm exited (${code}): ${out}`)));
  });
  return sock;
}

const fastcgiAddress = arg("fastcgi") ?? (await startFpm());
const phpCgi = arg("php-cgi") ?? process.env.WIREHOUSE_PHP_CGI ?? findBin(["php-cgi"], ["/usr/bin"]) ?? "php-cgi";

const gateway = createGateway({ log: (level, msg) => level === "error" && console.error(msg) });
const fastcgi = gateway.site({
  root,
  match: ".php",
  fastcgi: {
    address: fastcgiAddress,
    maxConnections: Number(arg("max-connections", String(children))),
    keepAlive: arg("keepalive") !== "0",
    ...(arg("pipeline") !== undefined ? { pipeline: Number(arg("pipeline")) } : {}),
  },
});
const cgiCpus = arg("cgi-cpus");
const cgi = gateway.site({
  root,
  match: ".php",
  cgi: cgiCpus === undefined ? { bin: phpCgi } : { bin: "taskset", args: ["-c", cgiCpus, phpCgi] },
});

const server = createServer({ limits: { maxConnections: 1_000_000, keepAliveTimeoutMs: 60_000 } });
let port = 0;

async function serve(site: CgiSiteHandler, req: ServerRequest) {
  const path = req.rest;
  if (!site.mayMatch(path)) return { status: 404, body: "not found\n" };
  const result: CgiResult = await site.handle({
    method: req.method,
    target: req.rawQuery ? `${path}?${req.rawQuery}` : path,
    path,
    query: req.rawQuery,
    httpVersion: `HTTP/${req.httpVersion}`,
    headers: [...req.headers],
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
    localPort: port,
    https: req.https,
    body: req.method === "GET" || req.method === "HEAD" ? null : req.bodyStream(),
  });
  if (result.type === "error") return { status: result.status, body: `${result.message}\n` };
  if (result.type === "local-redirect") return { status: 500, body: "local redirects are not followed here\n" };
  const headers = result.headers;
  // The program already finished (small pages over FastCGI): send the bytes, head and body in one write.
  const complete = result.body.complete;
  if (complete !== null) {
    return {
      status: result.status,
      headers: headers.filter(([n]) => n.toLowerCase() !== "content-length"),
      body: complete, // the server sends no body for HEAD
    };
  }
  if (result.body.length !== null && !headers.some(([n]) => n.toLowerCase() === "content-length")) {
    headers.push(["content-length", String(result.body.length)]);
  }
  if (req.method === "HEAD") {
    result.body.cancel();
    return { status: result.status, headers, body: null };
  }
  return { status: result.status, headers, body: result.body };
}

server.http("/fcgi/*", (req) => serve(fastcgi, req));
server.http("/cgi/*", (req) => serve(cgi, req));

({ port } = await server.listen({ port: Number(arg("port", "8080")), hostname: arg("host", "127.0.0.1") }));
console.log(`ready port=${port} pid=${process.pid}`);
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    const done = () => {
      cleanup();
      process.exit(0);
    };
    Promise.all([server.close({ deadline: 500 }), gateway.close()]).then(done, done);
  });
}
