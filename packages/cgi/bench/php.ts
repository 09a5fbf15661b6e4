/**
 * A small PHP page through one php-fpm pool, side by side in one run:
 *   nginx + php-fpm (the peer) and the wirehouse server (benchmarks/servers/wirehouse-php.ts:
 *   @wirehouse/server + this gateway) on Node, Deno and Bun, FastCGI path (same php-fpm pool)
 *   and CGI path (php-cgi per request).
 *
 *   npm run bench -w @wirehouse/cgi -- [--runtimes node,deno,bun] [--rounds 3] [--duration 3]
 *     [--connections 100] [--cgi-connections 100] [--no-cgi] [--fpm-children 4]
 *     [--server-cpu 0] [--load-cpu 1] [--fpm-cpu LIST] [--variant "name=--pipeline 1"]...
 *     [--nginx-keepalive]
 *
 * Every measurement gets a fresh server pinned to --server-cpu (taskset), a 1 s warm-up and
 * a --duration run of autocannon (as a library, in this process pinned to --load-cpu), then the
 * server is stopped (its kept FastCGI connections would pin php-fpm workers). Rounds interleave
 * the servers; the median round counts and the ratio is to nginx's median in the same run.
 * Needs nginx, php-fpm and php-cgi (Debian packages).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const opts = (name: string) => args.flatMap((a, i) => (a === `--${name}` && i + 1 < args.length ? [args[i + 1]!] : []));
const duration = Number(opt("duration", "3"));
const connections = Number(opt("connections", "100"));
const cgiConnections = Number(opt("cgi-connections", String(connections)));
const runtimes = opt("runtimes", "node,deno,bun")!.split(",").filter(Boolean);
const children = Number(opt("fpm-children", "4"));
const rounds = Number(opt("rounds", "3"));
const serverCpu = opt("server-cpu", "0")!;
const loadCpu = opt("load-cpu", "1")!;
const fpmCpu = opt("fpm-cpu");
const withCgi = !args.includes("--no-cgi");
const nginxKeepalive = args.includes("--nginx-keepalive");
// Extra FastCGI rows: "--variant 'pipeline2=--pipeline 2'" runs the server with those flags too.
const variants = [
  { name: "", flags: [] as string[] },
  ...opts("variant").map((v) => {
    const eq = v.indexOf("=");
    return {
      name: v.slice(0, eq),
      flags: v
        .slice(eq + 1)
        .split(" ")
        .filter(Boolean),
    };
  }),
];

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const serverScript = join(repo, "benchmarks", "servers", "wirehouse-php.ts");

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
const hasTaskset = spawnSync("taskset", ["-V"]).status === 0;
const pinned = (cpu: string | undefined, cmd: string, argv: string[]): [string, string[]] =>
  hasTaskset && cpu !== undefined ? ["taskset", ["-c", cpu, cmd, ...argv]] : [cmd, argv];
// The load generator runs here: pin every thread of this process to the load core.
if (hasTaskset) spawnSync("taskset", ["-a", "-p", "-c", loadCpu, String(process.pid)], { stdio: "ignore" });

const dir = mkdtempSync(join(tmpdir(), "wirehouse-php-bench-"));
const root = join(dir, "www");
mkdirSync(root, { recursive: true });
// Same page as benchmarks/servers/wirehouse-php.ts writes when run alone.
const page = `<?php
header("Content-Type: text/html; charset=utf-8");
$name = htmlspecialchars($_GET["name"] ?? "world");
echo "<!doctype html><title>hello</title><p>Hello, $name! ", date("Y-m-d"), "</p>\\n";
`;
writeFileSync(join(root, "hello.php"), page);
const sock = join(dir, "fpm.sock");
const procs = new Set<ChildProcess>();
// Interrupted: stop every server started so far (they run in their own process groups).
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    for (const p of procs) {
      try {
        process.kill(-p.pid!, "SIGKILL");
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  });
}

function start(cmd: string, argv: string[], ready: RegExp | null): Promise<{ child: ChildProcess; out: string }> {
  // Own process group, so stopping it reaches its children (php-fpm workers, php-cgi).
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  procs.add(child);
  child.on("exit", () => procs.delete(child));
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

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {}
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
  }, 3000);
  await exited;
  clearTimeout(timer);
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

interface Run {
  rps: number;
  p50: number;
  p99: number;
  bad: number;
}

async function load(url: string, conns: number): Promise<Run> {
  const sample = await waitHttp(url);
  if (!sample.includes("Hello, world")) throw new Error(`${url}: unexpected page ${sample.slice(0, 200)}`);
  await autocannon({ url, connections: conns, duration: 1 }); // warm-up (JIT, php-fpm workers, opcache)
  const r = await autocannon({ url, connections: conns, duration, pipelining: 1 });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    bad: r.non2xx + r.errors + r.timeouts,
  };
}

const runtimeCmd: Record<string, [string, string[]]> = {
  node: [process.execPath, ["--import", "tsx", serverScript]],
  bun: [join(repo, "node_modules", ".bin", "bun"), [serverScript]],
  deno: [join(repo, "node_modules", ".bin", "deno"), ["run", "-A", serverScript]],
};

interface Target {
  name: string;
  conns: number;
  measure: () => Promise<Run>;
}

try {
  writeFileSync(
    join(dir, "php-fpm.conf"),
    `[global]\nerror_log = ${join(dir, "fpm.log")}\ndaemonize = no\n[www]\nlisten = ${sock}\npm = static\npm.max_children = ${children}\n`,
  );
  const fpmArgs = ["-F", "-O", "-y", join(dir, "php-fpm.conf"), "-p", dir];
  if (process.getuid?.() === 0) fpmArgs.push("-R");
  // php-fpm is shared by every server; by default it may run on any core (as it would in production).
  // (This process is pinned to the load core, so the default must be said explicitly.)
  await start(...pinned(fpmCpu ?? `0-${cpus().length - 1}`, fpmBin, fpmArgs), /ready to handle/);

  const nginxPort = await freePort();
  mkdirSync(join(dir, "nginx"), { recursive: true });
  writeFileSync(
    join(dir, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "nginx-error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
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
  const nginx = await start(...pinned(serverCpu, nginxBin, ["-p", dir, "-c", join(dir, "nginx.conf")]), null);
  const nginxUrl = `http://127.0.0.1:${nginxPort}/hello.php`;

  const targets: Target[] = [
    {
      name: `nginx ${nginxKeepalive ? "(keepalive) " : ""}+ php-fpm`,
      conns: connections,
      measure: () => load(nginxUrl, connections),
    },
  ];
  const wirehouse = (runtime: string, flags: string[], path: string, conns: number) => async () => {
    const [cmd, base] = runtimeCmd[runtime]!;
    const s = await start(
      ...pinned(serverCpu, cmd, [
        ...base,
        "--port",
        "0",
        "--root",
        root,
        "--fastcgi",
        sock,
        "--php-cgi",
        cgiBin,
        "--fpm-children",
        String(children),
        // php-cgi, like php-fpm, may run on any core (it would inherit the server's pinning).
        "--cgi-cpus",
        fpmCpu ?? `0-${cpus().length - 1}`,
        ...flags,
      ]),
      /ready port=\d+/,
    );
    try {
      const port = Number(/ready port=(\d+)/.exec(s.out)![1]);
      return await load(`http://127.0.0.1:${port}${path}`, conns);
    } finally {
      await stop(s.child);
    }
  };
  for (const rt of runtimes) {
    for (const v of variants) {
      targets.push({
        name: `wirehouse ${rt} FastCGI${v.name ? ` ${v.name}` : ""}`,
        conns: connections,
        measure: wirehouse(rt, v.flags, "/fcgi/hello.php", connections),
      });
    }
    if (withCgi) {
      targets.push({
        name: `wirehouse ${rt} CGI`,
        conns: cgiConnections,
        measure: wirehouse(rt, [], "/cgi/hello.php", cgiConnections),
      });
    }
  }

  const runs = targets.map(() => [] as Run[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, t] of targets.entries()) {
      process.stderr.write(`[round ${round + 1}/${rounds}] ${t.name} ... `);
      const r = await t.measure();
      process.stderr.write(`${Math.round(r.rps)} req/s\n`);
      runs[i]!.push(r);
    }
  }
  await stop(nginx.child);
  const rows = runs.map((list, i) => {
    const sorted = [...list].sort((a, b) => a.rps - b.rps);
    const mid = sorted[Math.floor(sorted.length / 2)]!;
    return { ...mid, name: targets[i]!.name, conns: targets[i]!.conns, all: list.map((r) => Math.round(r.rps)) };
  });
  const base = rows[0]!.rps;
  const load1 = loadavg()[0]!.toFixed(1);
  console.log(
    `\nsmall PHP page, ${rounds} interleaved rounds of ${duration}s (after 1 s warm-up), median round shown; php-fpm pm=static ${children} children${fpmCpu ? ` on cpu ${fpmCpu}` : ""}; server on cpu ${serverCpu}, autocannon on cpu ${loadCpu}; load average ${load1} at the end\n`,
  );
  console.log("| server | connections | req/s (median) | vs nginx | p50 ms | p99 ms | errors | every round |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    const pct = ((r.rps / base) * 100).toFixed(0);
    console.log(
      `| ${r.name} | ${r.conns} | ${Math.round(r.rps)} | ${pct}% | ${r.p50} | ${r.p99} | ${r.bad} | ${r.all.join(" / ")} |`,
    );
  }
} finally {
  await Promise.all([...procs].map(stop));
  rmSync(dir, { recursive: true, force: true });
}
