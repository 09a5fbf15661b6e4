/**
 * Parsed header fields: kept in arrival order with their original spelling,
 * looked up case-insensitively, repeated fields kept as separate entries.
 * Storage is three flat arrays, so a head with a dozen fields costs three
 * small arrays and the strings themselves.
 */
import { lowerAscii } from "./chars.ts";

export class HeaderList {
  /** Lower-case names, in arrival order. */
  readonly names: string[];
  /** Names as the peer spelled them. */
  readonly rawNames: string[];
  /** Values with surrounding whitespace trimmed (RFC 9110 §5.5). */
  readonly values: string[];

  constructor(names: string[] = [], rawNames: string[] = names, values: string[] = []) {
    this.names = names;
    this.rawNames = rawNames;
    this.values = values;
  }

  /** Builds a list from `[name, value]` pairs (names keep their spelling). */
  static from(pairs: Iterable<readonly [string, string]>): HeaderList {
    const list = new HeaderList([], [], []);
    for (const [n, v] of pairs) list.append(n, v);
    return list;
  }

  /** Number of field lines. */
  get size(): number {
    return this.names.length;
  }

  append(name: string, value: string): void {
    this.names.push(lowerAscii(name));
    this.rawNames.push(name);
    this.values.push(value);
  }

  /** True when a field named `name` (any case) is present. */
  has(name: string): boolean {
    return this.names.indexOf(lowerAscii(name)) !== -1;
  }

  /** The first value of `name`, or undefined. */
  first(name: string): string | undefined {
    return firstLower(this, lowerAscii(name));
  }

  /**
   * All values of `name` joined with ", " (RFC 9110 §5.3 list semantics), or
   * undefined when absent. Use `getAll` for Set-Cookie and Cookie, whose
   * values must not be combined that way.
   */
  get(name: string): string | undefined {
    return getLower(this, lowerAscii(name));
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const key = lowerAscii(name);
    const out: string[] = [];
    const names = this.names;
    for (let i = names.indexOf(key); i !== -1; i = names.indexOf(key, i + 1)) out.push(this.values[i]!);
    return out;
  }

  /** How many field lines are named `name`. */
  count(name: string): number {
    const key = lowerAscii(name);
    let n = 0;
    for (let i = this.names.indexOf(key); i !== -1; i = this.names.indexOf(key, i + 1)) n++;
    return n;
  }

  /** `[rawName, value]` pairs in arrival order. */
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.names.length; i++) yield [this.rawNames[i]!, this.values[i]!];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** A plain object of lower-case name to combined value (Set-Cookie/Cookie values kept separate as arrays). */
  toObject(): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = Object.create(null);
    for (let i = 0; i < this.names.length; i++) {
      const n = this.names[i]!;
      const v = this.values[i]!;
      const prev = out[n];
      if (prev === undefined) out[n] = n === "set-cookie" ? [v] : v;
      else if (Array.isArray(prev)) prev.push(v);
      else out[n] = n === "cookie" ? prev + "; " + v : prev + ", " + v;
    }
    return out;
  }
}

/**
 * `list.get(name)` for a `name` already in lower case (the handshake's
 * literals): no lowering pass, which cost more than the search itself.
 * Internal (not exported from the package).
 */
export function getLower(list: HeaderList, name: string): string | undefined {
  const names = list.names;
  let i = names.indexOf(name);
  if (i === -1) return undefined;
  let out = list.values[i]!;
  while ((i = names.indexOf(name, i + 1)) !== -1) out += ", " + list.values[i]!;
  return out;
}

/** `list.first(name)` for a `name` already in lower case. Internal. */
export function firstLower(list: HeaderList, name: string): string | undefined {
  const i = list.names.indexOf(name);
  return i === -1 ? undefined : list.values[i];
}
