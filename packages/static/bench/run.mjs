#!/usr/bin/env node
// Runs bench/static.bench.ts on Node, Deno and Bun in turn (or the runtimes
// given: `node bench/run.mjs bun deno`).
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => resolve(here, "../../../node_modules/.bin", name);
const file = join(here, "static.bench.ts");
const commands = {
  node: [process.execPath, ["--import", "tsx", file]],
  deno: [bin("deno"), ["run", "-A", file]],
  bun: [bin("bun"), [file]],
};
const wanted = process.argv.slice(2).filter((a) => a in commands);
let failed = false;
for (const runtime of wanted.length ? wanted : Object.keys(commands)) {
  const [cmd, args] = commands[runtime];
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: resolve(here, "..") });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
