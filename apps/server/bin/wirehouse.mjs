#!/usr/bin/env node
// The `wirehouse` command. Deno and Bun run the TypeScript sources directly;
// Node runs the built dist/ when present, else the sources through tsx.
import { existsSync } from "node:fs";
import process from "node:process";

const g = globalThis;
const args = g.Deno ? g.Deno.args : process.argv.slice(2);
let entry;
if (g.Deno || g.Bun) {
  entry = await import("../src/cli.ts");
} else if (process.env.WIREHOUSE_FROM_SOURCE !== "1" && existsSync(new URL("../dist/cli.js", import.meta.url))) {
  entry = await import("../dist/cli.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  entry = await import("../src/cli.ts");
}
const result = await entry.main(args);
if (typeof result === "number") process.exit(result);
