/**
 * Fuzz campaign CLI: `npm run fuzz -w @wirehouse/codec -- [--seconds 60] [--seed N]`.
 * Mutates valid frame streams and checks the decoder's invariants (see engine.ts). A failing
 * input is written to fuzz/failures/<seed>.json; commit it under fuzz/corpus/ to replay it in
 * the normal tests.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fuzzOptions } from "../../../scripts/fuzz-kit.ts";
import { caseToJson, runFuzz } from "./engine.ts";

const { seconds, seed } = fuzzOptions(process.argv.slice(2), 60);

console.log(`fuzzing @wirehouse/codec for ${seconds}s with --seed ${seed}`);
const result = runFuzz(seconds, seed);
console.log(`${result.cases} cases, ${result.failures.length} failures`);
if (result.failures.length > 0) {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "failures");
  mkdirSync(dir, { recursive: true });
  for (const f of result.failures) {
    const file = join(dir, `seed-${seed}-${result.cases}.json`);
    writeFileSync(file, `${JSON.stringify(caseToJson(f.case, f.message), null, 1)}\n`);
    console.error(`FAILURE: ${f.message}\nwritten to ${file}`);
  }
  process.exit(1);
}
