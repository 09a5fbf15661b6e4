/**
 * The fuzz engine for the request headers the static cache parses: Range, Accept-Encoding,
 * If-None-Match and If-Modified-Since (src/http.ts). Each case builds a header from pieces of the
 * grammar and of garbage (digits, separators, q-values, tags, whitespace, non-ASCII, huge numbers)
 * or from a valid form, and checks what must hold for any input:
 *
 * - nothing throws;
 * - `parseRange` gives null, "unsatisfiable", or whole numbers `0 ≤ start ≤ end < length`; a valid
 *   single range or suffix gives exactly the bytes it names (clamped to the length);
 * - `parseAcceptEncoding` gives q-values in [0, 1], and `chooseCoding` only a coding that is
 *   available (or identity);
 * - `noneMatchHits` is true when the tag, its weak form or `*` is one of the listed elements.
 *
 * Used by `fuzz.ts` (a time-bounded campaign) and by the tests (a short fixed-seed run).
 */
import { runCases } from "../../../scripts/fuzz-kit.ts";
import { chooseCoding, noneMatchHits, notModifiedSince, parseAcceptEncoding, parseRange } from "../src/http.ts";

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const PIECES = [
  "bytes",
  "BYTES",
  "items",
  "=",
  "-",
  ",",
  ";",
  " ",
  "\t",
  "0",
  "1",
  "7",
  "42",
  "999",
  "00012",
  "99999999999999999999",
  "1e3",
  "0x10",
  "-5",
  "q",
  "q=",
  "q=1",
  "q=0",
  "q=0.5",
  "q=1.000",
  "q=1.5",
  "q=0.0001",
  "br",
  "gzip",
  "x-gzip",
  "identity",
  "*",
  "deflate",
  "W/",
  '"',
  '"abc"',
  'W/"abc"',
  "é",
  "😀",
  "\u0000",
  "\r\n",
];

function soup(r: Rand): string {
  let s = "";
  for (let n = int(r, 12); n >= 0; n--) s += pick(r, PIECES);
  return s;
}

export interface FuzzFailure {
  seed: number;
  index: number;
  what: string;
  input: string;
  length?: number;
}

/** Why the parsers are wrong on `header` (for a representation of `length` bytes), or null. */
export function checkHeader(header: string, length: number): string | null {
  const range = parseRange(header, length);
  if (range !== null && range !== "unsatisfiable") {
    const { start, end } = range;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end >= length)
      return `parseRange gave ${start}-${end} for ${length} bytes`;
  }
  const pref = parseAcceptEncoding(header);
  for (const q of [pref.br, pref.gzip, pref.identity])
    if (!(q >= 0 && q <= 1)) return `parseAcceptEncoding gave q=${q}`;
  for (const [br, gz] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const c = chooseCoding(pref, br, gz);
    if ((c === "br" && !br) || (c === "gzip" && !gz)) return `chooseCoding chose ${c}, which is not available`;
  }
  noneMatchHits(header, '"abc"');
  notModifiedSince(header, "Tue, 24 Nov 2026 06:00:00 GMT", 1_795_500_000);
  return null;
}

/** A valid single range or suffix and what it must parse to, for `length` bytes. */
function validRange(r: Rand, length: number): { header: string; expect: ReturnType<typeof parseRange> } {
  const sp = () => pick(r, ["", " ", "\t"]);
  if (r() < 0.3) {
    const n = int(r, length + 10);
    const expect = n === 0 || length === 0 ? "unsatisfiable" : { start: Math.max(0, length - n), end: length - 1 };
    return { header: `bytes=${sp()}-${n}${sp()}`, expect };
  }
  const start = int(r, length + 5);
  const open = r() < 0.3;
  const end = start + int(r, 20);
  const expect = start >= length ? "unsatisfiable" : { start, end: open ? length - 1 : Math.min(end, length - 1) };
  return { header: `${pick(r, ["bytes", "Bytes"])}${sp()}=${sp()}${start}-${open ? "" : end}`, expect };
}

/** Runs cases until `deadline` (ms since epoch) or `maxCases`; returns the count and the first failure. */
export function runFuzz(
  seed: number,
  deadline: number,
  maxCases = Number.POSITIVE_INFINITY,
): { cases: number; failure: FuzzFailure | null } {
  return runCases(seed, deadline, maxCases, 256, (r, index): FuzzFailure | null => {
    const length = pick(r, [0, 1, 2, 100, 4096, 2 ** 40]);
    let header = "";
    try {
      const kind = int(r, 3);
      if (kind === 0) {
        header = soup(r);
      } else if (kind === 1) {
        const v = validRange(r, length);
        header = v.header;
        const got = parseRange(header, length);
        if (JSON.stringify(got) !== JSON.stringify(v.expect))
          return {
            seed,
            index,
            what: `parseRange gave ${JSON.stringify(got)}, not ${JSON.stringify(v.expect)}`,
            input: header,
            length,
          };
      } else {
        const tags = Array.from({ length: 1 + int(r, 4) }, () =>
          pick(r, ['"x"', 'W/"y"', '"abc"', 'W/"abc"', "*", soup(r)]),
        );
        header = tags.join(pick(r, [",", ", ", " ,\t"]));
        const listed = tags.some((t) => t.trim() === '"abc"' || t.trim() === 'W/"abc"' || t.trim() === "*");
        if (listed && !noneMatchHits(header, '"abc"'))
          return { seed, index, what: "noneMatchHits missed a listed tag", input: header };
      }
      const why = checkHeader(header, length);
      if (why) return { seed, index, what: why, input: header, length };
    } catch (e) {
      return { seed, index, what: `threw: ${(e as Error).message}`, input: header, length };
    }
    return null;
  });
}
