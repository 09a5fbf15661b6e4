/**
 * Fuzz campaign CLI: `npm run fuzz -w @wirehouse/codec -- [--seconds 60] [--seed N]`.
 * Mutates valid frame streams and checks the decoder's invariants (see engine.ts). A failing
 * input is written to fuzz/failures/<seed>.json; commit it under fuzz/corpus/ to replay it in
 * the normal tests.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { caseToJson, runFuzz } from "./engine.ts";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(opt("seconds") ?? 60);
const seed = Number(opt("seed") ?? Math.floor(Math.random() * 2 ** 31));

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
