/**
 * A small PHP page through php-fpm, side by side in one run:
 *   nginx + php-fpm (the peer), the gateway's FastCGI path and CGI path
 *   (behind the bench-only node:http front in bench/front.ts), and, with
 *   --url, any running HTTP server (the wirehouse server) serving the same page.
 *
 *   npm run bench -w @wirehouse/cgi -- [--duration 10] [--connections 50]
 *     [--front-runtime node|bun|deno] [--url http://127.0.0.1:8080/hello.php]
 *     [--php-root DIR]   (with --url: the root that server maps; hello.php is written there)
 *     [--nginx-keepalive] [--fpm-children 4] [--rounds 3]
 *
 * Needs nginx, php-fpm and php-cgi (Debian packages). Load: autocannon (as a library).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const duration = Number(opt("duration", "10"));
const connections = Number(opt("connections", "50"));
const frontRuntime = opt("front-runtime", "node")!;
const externalUrl = opt("url");
const children = Number(opt("fpm-children", "4"));
const rounds = Number(opt("rounds", "3"));
// nginx's default is a new FastCGI connection per request. With keepalive, nginx opens more
// connections than php-fpm has workers under load, and the kept ones pin the workers: the rest
// stall in the backlog (seen here as autocannon timeouts). So keepalive is opt-in.
const nginxKeepalive = args.includes("--nginx-keepalive");

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");

function which(names: string[], dirs: string[]): string {
  for (const d of [...(process.env.PATH ?? "").split(":"), ...dirs]) {
    if (!d || !existsSync(d)) continue;
    for (const e of readdirSync(d))
      if (names.some((n) => e === n || (e.startsWith(n) && /\d/.test(e.slice(n.length))))) return join(d, e);
  }
  throw new Error(`${names[0]} not found (Debian package ${names[0]})`);
}

const fpmBin = which(["php-fpm"], ["/usr/sbin"]);
const cgiBin = which(["php-cgi"], ["/usr/bin"]);
const nginxBin = which(["nginx"], ["/usr/sbin"]);

const dir = mkdtempSync(join(tmpdir(), "wirehouse-php-bench-"));
const root = opt("php-root") ?? join(dir, "www");
mkdirSync(root, { recursive: true });
const page = `<?php
header("Content-Type: text/html; charset=utf-8");
$name = htmlspecialchars($_GET["name"] ?? "world");
echo "<!doctype html><title>hello</title><p>Hello, $name! ", date("Y-m-d"), "</p>\\n";
`;
writeFileSync(join(root, "hello.php"), page);
const sock = join(dir, "fpm.sock");
const procs: ChildProcess[] = [];

function start(
  cmd: string,
  argv: string[],
  ready: RegExp | null,
  cwd?: string,
): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], cwd });
  procs.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const on = (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      if (ready?.test(out)) resolve({ child, out });
    };
    child.stdout!.on("data", on);
    child.stderr!.on("data", on);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`${cmd} exited (${code}): ${out}`)));
    if (ready === null) resolve({ child, out });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string) {
  let last = "";
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(url);
      const text = await r.text();
      if (r.ok) return text;
      last = `${r.status} ${text.slice(0, 200)}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered 200: ${last}`);
}

async function load(name: string, url: string, conns = connections) {
  const sample = await waitHttp(url);
  if (!sample.includes("Hello, world")) throw new Error(`${name}: unexpected page ${sample.slice(0, 200)}`);
  const r = await autocannon({ url, connections: conns, duration, pipelining: 1 });
  return {
    name,
    conns,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

try {
  writeFileSync(
    join(dir, "php-fpm.conf"),
    `[global]\nerror_log = ${join(dir, "fpm.log")}\ndaemonize = no\n[www]\nlisten = ${sock}\npm = static\npm.max_children = ${children}\n`,
  );
  const fpmArgs = ["-F", "-O", "-y", join(dir, "php-fpm.conf"), "-p", dir];
  if (process.getuid?.() === 0) fpmArgs.push("-R");
  await start(fpmBin, fpmArgs, /ready to handle connections/);

  const nginxPort = await freePort();
  mkdirSync(join(dir, "nginx"), { recursive: true });
  writeFileSync(
    join(dir, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "nginx-error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, "nginx")};
  fastcgi_temp_path ${join(dir, "nginx")};
  upstream php { server unix:${sock};${nginxKeepalive ? ` keepalive ${children};` : ""} }
  server {
    listen 127.0.0.1:${nginxPort};
    root ${root};
    location ~ \\.php$ {
      fastcgi_pass php;
      ${nginxKeepalive ? "fastcgi_keep_conn on;" : ""}
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_param REDIRECT_STATUS 200;
    }
  }
}
`,
  );
  await start(nginxBin, ["-p", dir, "-c", join(dir, "nginx.conf")], null);

  const frontCmd: Record<string, [string, string[]]> = {
    node: [process.execPath, ["--import", "tsx", join(here, "front.ts")]],
    bun: [join(repo, "node_modules", ".bin", "bun"), [join(here, "front.ts")]],
    deno: [join(repo, "node_modules", ".bin", "deno"), ["run", "-A", join(here, "front.ts")]],
  };
  const [fcmd, fargs] = frontCmd[frontRuntime]!;
  const fcgiFront = await start(
    fcmd,
    [...fargs, "--root", root, "--fastcgi", sock, "--max-connections", String(children)],
    /listening \d+/,
    here,
  );
  const fcgiFrontPipe = await start(
    fcmd,
    [...fargs, "--root", root, "--fastcgi", sock, "--max-connections", String(children), "--pipeline", "2"],
    /listening \d+/,
    here,
  );
  const fcgiFrontNoKa = await start(
    fcmd,
    [...fargs, "--root", root, "--fastcgi", sock, "--max-connections", String(connections), "--keepalive", "0"],
    /listening \d+/,
    here,
  );
  const cgiFront = await start(fcmd, [...fargs, "--root", root, "--cgi", cgiBin], /listening \d+/, here);
  const port = (o: string) => Number(/listening (\d+)/.exec(o)![1]);

  const targets: Array<{ name: string; url: string; conns?: number }> = [
    { name: `nginx + php-fpm${nginxKeepalive ? " (keepalive)" : ""}`, url: `http://127.0.0.1:${nginxPort}/hello.php` },
    {
      name: `gateway FastCGI (${frontRuntime} node:http front)`,
      url: `http://127.0.0.1:${port(fcgiFront.out)}/hello.php`,
    },
    {
      name: `gateway FastCGI, pipeline 2 (${frontRuntime} front)`,
      url: `http://127.0.0.1:${port(fcgiFrontPipe.out)}/hello.php`,
    },
    {
      name: `gateway FastCGI, connection per request (${frontRuntime} front)`,
      url: `http://127.0.0.1:${port(fcgiFrontNoKa.out)}/hello.php`,
    },
  ];
  if (externalUrl) targets.push({ name: `server under test ${externalUrl}`, url: externalUrl });
  // CGI forks a php-cgi per request: fewer connections keep the machine responsive.
  targets.push({
    name: `gateway CGI php-cgi (${frontRuntime} front)`,
    url: `http://127.0.0.1:${port(cgiFront.out)}/hello.php`,
    conns: Math.min(connections, 8),
  });
  // Rounds interleave the peers, so a noisy neighbour hits all of them alike; the median round counts.
  const runs = targets.map(() => [] as Awaited<ReturnType<typeof load>>[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, t] of targets.entries()) runs[i]!.push(await load(t.name, t.url, t.conns));
  }
  const rows = runs.map((list) => {
    const sorted = [...list].sort((a, b) => a.rps - b.rps);
    const mid = sorted[Math.floor(sorted.length / 2)]!;
    return { ...mid, all: list.map((r) => Math.round(r.rps)).join(" / ") };
  });
  const base = rows[0]!.rps;
  console.log(
    `\nsmall PHP page, ${rounds} interleaved rounds of ${duration}s, median round shown, php-fpm pm=static ${children} children, autocannon\n`,
  );
  console.log(
    "| path | connections | req/s (median) | vs nginx | p50 ms | p99 ms | non-2xx | errors | timeouts | every round |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const pct = ((r.rps / base) * 100).toFixed(0);
    console.log(
      `| ${r.name} | ${r.conns} | ${Math.round(r.rps)} | ${pct}% | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.errors} | ${r.timeouts} | ${r.all} |`,
    );
  }
} finally {
  for (const p of procs.reverse()) {
    if (p.exitCode === null) p.kill("SIGTERM");
  }
  rmSync(dir, { recursive: true, force: true });
}
