/**
 * Fuzz campaign CLI: `npm run fuzz -w @wirehouse/static -- [--seconds 60] [--seed N]`.
 * Builds Range, Accept-Encoding and If-None-Match headers from pieces of the grammar and of garbage
 * and checks the parsers' invariants (see engine.ts). A failure prints its seed, case and header,
 * and exits 1.
 */
import process from "node:process";
import { runFuzz } from "./engine.ts";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(opt("seconds") ?? 60);
const seed = Number(opt("seed") ?? Math.floor(Math.random() * 2 ** 31));

console.log(`fuzzing @wirehouse/static for ${seconds}s with --seed ${seed}`);
const { cases, failure } = runFuzz(seed, Date.now() + seconds * 1000);
console.log(`${cases} cases, ${failure ? 1 : 0} failures`);
if (failure) {
  const at = failure.length === undefined ? "" : ` (${failure.length} bytes)`;
  console.error(
    `FAILURE (seed ${failure.seed}, case ${failure.index}): ${failure.what}${at}\nheader: ${JSON.stringify(failure.input)}`,
  );
  process.exit(1);
}
