/**
 * Fuzz campaign CLI: `npm run fuzz -w @wirehouse/pubsub-redis -- [--seconds 60] [--seed N]`.
 * Mutates valid envelopes and relay streams and checks the decoders' invariants (see engine.ts).
 * A failure prints its seed and case and the input bytes, and exits 1.
 */

import process from "node:process";
import { fuzzOptions } from "../../../scripts/fuzz-kit.ts";
import { runFuzz } from "./engine.ts";

const { seconds, seed } = fuzzOptions(process.argv.slice(2), 60);

console.log(`fuzzing @wirehouse/pubsub-redis for ${seconds}s with --seed ${seed}`);
const { cases, failure } = runFuzz(seed, Date.now() + seconds * 1000);
console.log(`${cases} cases, ${failure ? 1 : 0} failures`);
if (failure) {
  console.error(
    `FAILURE (seed ${failure.seed}, case ${failure.index}): ${failure.what}\ninput: [${failure.input.join(",")}]`,
  );
  process.exit(1);
}
