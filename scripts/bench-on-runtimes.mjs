#!/usr/bin/env node
// Runs one benchmark file on Node, Deno and Bun in turn (or the runtimes given), from the
// directory it is called in; exits non-zero if any runtime failed.
//   node ../../scripts/bench-on-runtimes.mjs bench/router.bench.ts [node] [deno] [bun]
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => resolve(root, "node_modules/.bin", name);
const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error("usage: bench-on-runtimes.mjs <file.ts> [node|deno|bun ...]");
  process.exit(2);
}
const commands = {
  node: [process.execPath, ["--import", "tsx", file]],
  deno: [bin("deno"), ["run", "-A", file]],
  bun: [bin("bun"), [file]],
};
const wanted = rest.filter((a) => a in commands);
let failed = false;
for (const runtime of wanted.length ? wanted : Object.keys(commands)) {
  const [cmd, args] = commands[runtime];
  if (spawnSync(cmd, args, { stdio: "inherit" }).status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
