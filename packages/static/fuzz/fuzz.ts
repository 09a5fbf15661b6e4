/**
 * Fuzz campaign CLI: `npm run fuzz -w @wirehouse/static -- [--seconds 60] [--seed N]`.
 * Builds Range, Accept-Encoding and If-None-Match headers from pieces of the grammar and of garbage
 * and checks the parsers' invariants (see engine.ts). A failure prints its seed, case and header,
 * and exits 1.
 */

import process from "node:process";
import { fuzzOptions } from "../../../scripts/fuzz-kit.ts";
import { runFuzz } from "./engine.ts";

const { seconds, seed } = fuzzOptions(process.argv.slice(2), 60);

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
