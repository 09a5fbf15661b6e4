#!/usr/bin/env node
// Runs the project's tests on Node, Deno and Bun from the same files.
//
//   node scripts/test.mjs [--runtime node|deno|bun]... [dir ...]
//
// Test files are `*.test.ts` under a `test/` folder of each given directory
// (default: every package, the apps and the benchmarks). Every runtime runs
// every file; the script prints one summary line per runtime, then a total
// line `total: N passed, N failed`, and exits non-zero if any runtime failed.
// Each runtime run has a hard time limit so a hung test cannot hang CI.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

const args = process.argv.slice(2);
const runtimes = [];
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runtime") runtimes.push(args[++i]);
  else dirs.push(resolve(args[i]));
}
if (runtimes.length === 0) runtimes.push("node", "deno", "bun");
if (dirs.length === 0) {
  for (const group of ["packages", "apps"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) dirs.push(join(base, name));
  }
  dirs.push(join(root, "benchmarks"));
}

/** Every `*.test.ts` below a `test` folder of `dir` (node_modules and dist excluded). */
function findTests(dir) {
  const found = [];
  const walk = (d, inTest) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, inTest || name === "test");
      else if (inTest && name.endsWith(".test.ts")) found.push(p);
    }
  };
  walk(dir, false);
  return found;
}

const files = dirs.flatMap(findTests);
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const rel = files.map((f) => `./${relative(root, f)}`);

const limitMinutes = Number(process.env.WIREHOUSE_TEST_MINUTES ?? 20);

const commands = {
  node: [process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...rel]],
  // --no-check: the TypeScript check is `npm run typecheck`; Deno only runs.
  deno: [bin("deno"), ["test", "-A", "--no-check", ...rel]],
  bun: [bin("bun"), ["test", "--timeout", "120000", ...rel]],
};

/** Reads the passed and failed counts from a runner's closing lines. */
function parseSummary(runtime, out) {
  const clean = out.replace(/\x1b\[[0-9;]*m/g, "");
  const last = (re) => {
    const all = [...clean.matchAll(re)];
    return all.length ? Number(all[all.length - 1][1]) : undefined;
  };
  if (runtime === "node") return { passed: last(/^[ℹ#] pass (\d+)/gm), failed: last(/^[ℹ#] fail (\d+)/gm) };
  if (runtime === "deno") {
    const m = [...clean.matchAll(/^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed/gm)].pop();
    return m ? { passed: Number(m[1]), failed: Number(m[2]) } : {};
  }
  return { passed: last(/^\s*(\d+) pass$/gm), failed: last(/^\s*(\d+) fail$/gm) };
}

function run(runtime) {
  const [cmd, argv] = commands[runtime];
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(cmd, argv, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WIREHOUSE_TEST_RUNTIME: runtime, NO_COLOR: "1", FORCE_COLOR: "0" },
      detached: true,
    });
    let out = "";
    const take = (stream, sink) =>
      stream.on("data", (chunk) => {
        out += chunk;
        sink.write(chunk);
      });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, limitMinutes * 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const { passed, failed } = parseSummary(runtime, out);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const ok = code === 0 && !timedOut && passed !== undefined && passed > 0;
      done({ runtime, ok, passed: passed ?? 0, failed: failed ?? (ok ? 0 : 1), code, timedOut, seconds });
    });
  });
}

const results = [];
for (const runtime of runtimes) {
  console.log(`\n=== ${runtime}: ${rel.length} test files`);
  results.push(await run(runtime));
}

console.log("\n=== summary");
let passed = 0;
let failed = 0;
for (const r of results) {
  passed += r.passed;
  failed += r.failed;
  const extra = r.timedOut ? ` (timed out after ${limitMinutes} min)` : r.ok ? "" : ` (exit code ${r.code})`;
  console.log(`${r.runtime}: ${r.passed} passed, ${r.failed} failed in ${r.seconds}s${extra}`);
}
const allOk = results.every((r) => r.ok);
console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(allOk ? 0 : 1);
