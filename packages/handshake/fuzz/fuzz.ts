/**
 * Time-bounded fuzzing of the handshake package's parsers.
 *
 *   npm run fuzz -w @wirehouse/handshake -- [--seconds 30] [--seed 1234]
 *
 * Failing inputs are written to fuzz/corpus/crash-<hash>.bin; commit them
 * once fixed and the tests replay them forever.
 */

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fuzzOptions, prng } from "../../../scripts/fuzz-kit.ts";
import { campaign, check, inputName } from "./targets.ts";

const { seconds, seed } = fuzzOptions(process.argv.slice(2), 10);
const dir = new URL("./corpus/", import.meta.url);
mkdirSync(dir, { recursive: true });

const corpus = readdirSync(dir)
  .filter((f) => f.endsWith(".bin"))
  .map((f) => new Uint8Array(readFileSync(new URL(f, dir))));
let replayFailures = 0;
for (const input of corpus) {
  try {
    check(input, prng(1));
  } catch (e) {
    replayFailures++;
    console.error("corpus input fails:", inputName(input), e instanceof Error ? e.message : e);
  }
}

console.log(`fuzzing for ${seconds}s with --seed ${seed} (${corpus.length} corpus inputs replayed)`);
const started = Date.now();
const result = campaign(seed, seconds * 1000, corpus);
const elapsed = (Date.now() - started) / 1000;
for (const f of result.failures) {
  const file = new URL(`crash-${inputName(f.input)}.bin`, dir);
  writeFileSync(file, f.input);
  console.error(`\nFAILURE saved to ${file.pathname}\n${f.error}`);
}
console.log(
  `${result.iterations} inputs in ${elapsed.toFixed(1)}s (${Math.round(result.iterations / elapsed)}/s), ${result.failures.length} failures`,
);
process.exit(result.failures.length > 0 || replayFailures > 0 ? 1 : 0);
