/**
 * @module
 * What some scenarios need besides the server under test, started by the
 * harness once per scenario (pinned to the server core, like the servers) and
 * stopped after it:
 *
 * - `php`: a php-fpm pool (static, on a Unix socket in a temporary directory)
 *   and a document root holding the benchmark's small PHP page; the servers get
 *   `{phpRoot}`, `{fpm}` (the socket path) and `{phpCgi}` (the php-cgi binary).
 * - `redis`: a redis-server on a free loopback port with no persistence; the
 *   servers get `{redis}` (its redis:// URL).
 *
 * The config writers are pure functions (tested); `startFixture` runs them.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type FixtureName = "php" | "redis";

/** What each fixture needs installed (Debian package names in brackets in the skip reason). */
export const FIXTURE_COMMANDS: Record<FixtureName, string[]> = {
  php: ["php-fpm"],
  redis: ["redis-server"],
};

/**
 * The path of a program: `name` on PATH or in the sbin directories, or a
 * versioned variant (Debian installs `php-fpm8.2`, not `php-fpm`).
 */
export function findCommand(name: string, path = process.env.PATH ?? ""): string | undefined {
  const dirs = [...path.split(":"), "/usr/sbin", "/usr/local/sbin", "/sbin"].filter(Boolean);
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  const versioned = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\d+(\\.\\d+)*$`);
  for (const d of dirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(d);
    } catch {
      continue;
    }
    const hit = entries.filter((e) => versioned.test(e)).sort();
    if (hit.length) return join(d, hit[hit.length - 1]!);
  }
  return undefined;
}

/** The benchmark's small PHP page (the one packages/cgi's bench uses): a header, an escaped query value, a date. */
export const PHP_PAGE = `<?php
header("Content-Type: text/html; charset=utf-8");
$name = htmlspecialchars($_GET["name"] ?? "world");
echo "<!doctype html><title>hello</title><p>Hello, $name! ", date("Y-m-d"), "</p>\\n";
`;

/** php-fpm.conf for one static pool listening on `listen` (a Unix socket path or host:port), logging to `dir`. */
export function phpFpmConfig(dir: string, listen: string, children: number): string {
  return `; written by @wirehouse/benchmarks for one scenario
[global]
error_log = ${join(dir, "php-fpm.log")}
daemonize = no
[bench]
listen = ${listen}
pm = static
pm.max_children = ${children}
pm.max_requests = 0
; no access log, like nginx's
access.log = /dev/null
catch_workers_output = yes
`;
}

/** The argv of a throw-away redis-server on 127.0.0.1:`port`: no RDB snapshots, no AOF, its files in `dir`. */
export function redisArgs(bin: string, port: number, dir: string): string[] {
  return [
    bin,
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--dir",
    dir,
    "--logfile",
    "",
    "--databases",
    "1",
  ];
}

export interface Fixture {
  name: FixtureName;
  /** Values the servers' args refer to as `{key}`. */
  vars: Record<string, string>;
  /** Process ids of the fixture (to add their CPU to the server's where it matters). */
  pids: number[];
  stop(): Promise<void>;
}

/** Why a fixture cannot run here (a program missing), or undefined. */
export function fixtureUnavailable(name: FixtureName, find = findCommand): string | undefined {
  const missing = FIXTURE_COMMANDS[name].filter((c) => !find(c));
  return missing.length ? `${missing.join(", ")} not installed` : undefined;
}

/** Starts a process in its own group (pinned with taskset when `cpu` is given) and waits for `ready` in its output. */
async function startProcess(
  argv: string[],
  cpu: string | undefined,
  ready: RegExp,
  limitMs = 15_000,
): Promise<{ pid: number; stop(): Promise<void> }> {
  const [cmd, args] = cpu ? ["taskset", ["-c", cpu, ...argv]] : [argv[0]!, argv.slice(1)];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on("exit", () => {
      exited = true;
      resolve();
    }),
  );
  child.on("error", (e) => {
    output += String(e);
  });
  let isReady = false;
  const onData = (d: Buffer) => {
    output = (output + d).slice(-4000);
    if (ready.test(output)) isReady = true;
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const stop = async () => {
    if (exited) return;
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {}
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, 3000);
    await exit;
    clearTimeout(t);
  };
  const started = Date.now();
  while (!isReady && !exited && Date.now() - started < limitMs) await new Promise((r) => setTimeout(r, 50));
  if (!isReady) {
    await stop();
    throw new Error(`${argv[0]} did not start: ${output.trim().slice(-300) || "no output"}`);
  }
  return { pid: child.pid!, stop };
}

/** Starts a fixture; `freePort` gives a free loopback port. */
export async function startFixture(
  name: FixtureName,
  cpu: string | undefined,
  freePort: () => Promise<number>,
  options: { fpmChildren?: number } = {},
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), `wirehouse-bench-${name}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    if (name === "php") {
      const fpm = findCommand("php-fpm");
      if (!fpm) throw new Error("php-fpm not installed");
      const root = join(dir, "www");
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, "hello.php"), PHP_PAGE);
      const sock = join(dir, "fpm.sock");
      const conf = join(dir, "php-fpm.conf");
      writeFileSync(conf, phpFpmConfig(dir, sock, options.fpmChildren ?? 4));
      // -F foreground, -O log to stderr too (the ready line), -R allowed to run as root (containers).
      const argv = [fpm, "-F", "-O", "-y", conf, "-p", dir, ...(process.getuid?.() === 0 ? ["-R"] : [])];
      const p = await startProcess(argv, cpu, /ready to handle connections/);
      const cgi = findCommand("php-cgi");
      return {
        name,
        vars: { phpRoot: root, fpm: sock, ...(cgi ? { phpCgi: cgi } : {}) },
        pids: [p.pid],
        stop: async () => {
          await p.stop();
          cleanup();
        },
      };
    }
    const bin = findCommand("redis-server");
    if (!bin) throw new Error("redis-server not installed");
    const port = await freePort();
    const p = await startProcess(redisArgs(bin, port, dir), cpu, /Ready to accept connections/);
    return {
      name,
      vars: { redis: `redis://127.0.0.1:${port}` },
      pids: [p.pid],
      stop: async () => {
        await p.stop();
        cleanup();
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}
