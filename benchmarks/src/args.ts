/**
 * @module
 * A tiny argument parser: `--key value`, `--key=value` and bare `--flag`.
 */

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | true>;
}

/** Parses `argv`; a `--key` followed by another `--option` (or nothing) is a boolean flag. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        flags[a.slice(2)] = next;
        i++;
      } else flags[a.slice(2)] = true;
    }
  }
  return { positional, flags };
}
