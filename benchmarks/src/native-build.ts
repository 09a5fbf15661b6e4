/**
 * @module
 * Native servers written for the benchmarks (`benchmarks/servers/*.c`): compiled with the system's C
 * compiler the first time a run needs one, into a temporary directory that is removed when the process
 * exits, and reused until then. Rows that need one are skipped where there is no `cc`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const built = new Map<string, string>();
let dir: string | undefined;

/** The compiler's argv for `source` → `binary` (optimised like a release build; warnings are not errors). */
export function compileCommand(source: string, binary: string): string[] {
  return ["cc", "-O2", "-o", binary, source];
}

/** The path of `source` compiled (an absolute path to a .c file); throws with the compiler's output when it fails. */
export function compiledBinary(source: string): string {
  const known = built.get(source);
  if (known) return known;
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), "wirehouse-native-"));
    process.on("exit", () => rmSync(made, { recursive: true, force: true }));
    dir = made;
  }
  const binary = join(dir, basename(source, ".c"));
  const [cc, ...args] = compileCommand(source, binary);
  execFileSync(cc!, args, { stdio: ["ignore", "ignore", "pipe"] });
  built.set(source, binary);
  return binary;
}

/** Removes what `compiledBinary` built (tests call it; a harness process leaves it to the exit hook). */
export function removeCompiled(): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  built.clear();
}
