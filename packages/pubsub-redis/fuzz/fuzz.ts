/**
 * Fuzz campaign CLI: `npm run fuzz -w @wirehouse/pubsub-redis -- [--seconds 60] [--seed N]`.
 * Mutates valid envelopes and relay streams and checks the decoders' invariants (see engine.ts).
 * A failure prints its seed and case and the input bytes, and exits 1.
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

console.log(`fuzzing @wirehouse/pubsub-redis for ${seconds}s with --seed ${seed}`);
const { cases, failure } = runFuzz(seed, Date.now() + seconds * 1000);
console.log(`${cases} cases, ${failure ? 1 : 0} failures`);
if (failure) {
  console.error(
    `FAILURE (seed ${failure.seed}, case ${failure.index}): ${failure.what}\ninput: [${failure.input.join(",")}]`,
  );
  process.exit(1);
}
