#!/usr/bin/env node
// Completes package-lock.json with the platform packages npm left out.
//
//   node scripts/lockfile-platforms.mjs [package-lock.json]
//
// npm 11 writes a lockfile entry only for the platform packages it could
// resolve (esbuild, rollup, biome, turbo, deno binaries), and a registry
// mirror that serves only some platforms leaves the others out; `npm ci`
// then refuses the lockfile as out of sync on every machine (npm/cli#4828,
// #8320). This adds each missing optional platform package of a locked
// package with its version and os/cpu/libc (read from its name), which is
// all `npm ci` needs: a machine installs only its own platform's package.
// Run it after `npm install` changes the lockfile; CI runs plain `npm ci`.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2] ?? "package-lock.json";
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;

/** os, cpu and libc of a platform package, from its name (e.g. @rollup/rollup-linux-arm64-musl). */
function platformOf(name) {
  const n = name.split("/").pop();
  const os = [
    ["android", /android/],
    ["darwin", /darwin/],
    ["win32", /win32|windows/],
    ["freebsd", /freebsd/],
    ["openbsd", /openbsd/],
    ["openharmony", /openharmony/],
    ["linux", /linux/],
  ].find(([, re]) => re.test(n))?.[0];
  const cpu = [
    ["arm64", /arm64/],
    ["x64", /x64|-64$/],
    ["ia32", /ia32/],
    ["arm", /arm-/],
    ["loong64", /loong64/],
    ["ppc64", /ppc64/],
    ["riscv64", /riscv64/],
    ["s390x", /s390x/],
  ].find(([, re]) => re.test(n))?.[0];
  if (!os || !cpu) throw new Error(`cannot tell the platform of ${name}`);
  const libc = /musl/.test(n) ? "musl" : os === "linux" && /gnu|glibc/.test(n) ? "glibc" : undefined;
  return { os, cpu, libc };
}

const added = [];
for (const entry of Object.values(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const { os, cpu, libc } = platformOf(name);
    packages[key] = {
      version,
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc: [libc] } : {}),
      optional: true,
      os: [os],
    };
    added.push(`${name}@${version}`);
  }
}
// npm keeps the entries sorted by path, the root ("") first.
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b, "en"))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${added.length} platform packages added${added.length ? `: ${added.join(" ")}` : ""}`);
