/**
 * The page-template compiler: HTML with `<?js code ?>`, `<?= expr ?>` and
 * `<?import file ?>` becomes a global script plus a line map, so that an
 * error at a generated line is reported at the template's line and column.
 * @module
 */
import { ScriptError } from "./errors.ts";

/** A template compiled to JavaScript, with the map back to the source. */
export interface CompiledTemplate {
  /** Site-relative file name, used as the script's file name in errors. */
  readonly file: string;
  /** The generated global script. */
  readonly code: string;
  /** Generated line (0-based index) → source line (1-based). */
  readonly lines: Int32Array;
  /** Generated line (0-based index) → source column minus generated column. */
  readonly cols: Int32Array;
  /**
   * Output sites: a run of static text and `<?= ?>` values with no code in
   * between. A site with n values is n + 1 static texts (the values go
   * between them). The code pushes a site's values and then the site's
   * number `serial * SITE_STRIDE + index` to `__o` in one call; the host puts the texts
   * around the values when it joins the output, so static HTML never enters the sandbox.
   */
  readonly sites: readonly (readonly string[])[];
  /** Unique per compilation (never 0), so that site numbers of different templates never collide. */
  readonly serial: number;
}

/** A `<?= ?>` expression that may call a function (a call, a tagged template, `new`). */
const MAY_CALL = /[(`]|\bnew\b/;

/** Site numbers are `serial * SITE_STRIDE + index` (index < SITE_STRIDE). */
export const SITE_STRIDE = 1 << 20;
let serials = 0;

/**
 * Compiles a template. Text outside tags is output as is; a single newline
 * right after `?>` of a `<?js` or `<?import` tag is dropped (as PHP does), so
 * code lines do not leave blank lines in the page. `<?` not followed by
 * `js`, `=` or `import` (say `<?xml`) is text.
 *
 * A run of text and `<?= a ?>`, `<?= b ?>` becomes
 * `__o.push((a\n),(b\n),site)`: the values are converted to
 * strings when the host reads `__o` (as `Array.prototype.join` does: null and
 * undefined print nothing), so output costs the sandbox one call per run.
 * A value that may call a function starts a new run (its texts before it are
 * pushed first), so that output printed by the call lands after them.
 */
export function compileTemplate(source: string, file: string): CompiledTemplate {
  const serial = ++serials;
  let code = "";
  const lines: number[] = [];
  const cols: number[] = [];
  const sites: string[][] = [];
  let line = 1; // source line at `pos`
  let lineStart = 0; // source offset where `line` starts
  let pos = 0;
  let first = true;
  /** Generated code not written yet: it goes in front of the next code emitted. */
  let pending = "";
  /** The texts of the current output run (one more than its values). */
  let run: string[] = [""];

  const freshLine = (srcLine: number, colDelta: number) => {
    if (!first) code += "\n";
    first = false;
    lines.push(srcLine);
    cols.push(colDelta);
  };
  /** Emits verbatim source from `start` to `end` on a fresh line after `prefix`, mapping each of its lines. */
  const emitVerbatim = (start: number, end: number, prefix: string) => {
    freshLine(line, start - lineStart - prefix.length);
    code += prefix;
    let from = start;
    for (let i = start; i < end; i++) {
      if (source.charCodeAt(i) === 10) {
        code += source.slice(from, i + 1);
        from = i + 1;
        line++;
        lineStart = i + 1;
        lines.push(line);
        cols.push(0);
      }
    }
    code += source.slice(from, end);
  };
  /** Advances the source position over text without code, counting lines. */
  const advance = (start: number, end: number) => {
    for (let i = start; i < end; i++) {
      if (source.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
  };
  /** Ends the current output run: what comes next starts a statement. */
  const closeRun = () => {
    if (run.length === 1 && run[0] === "") return;
    if (sites.length >= SITE_STRIDE) {
      throw new ScriptError("SyntaxError", `template has over ${SITE_STRIDE} output runs`, file, line, 1);
    }
    const site = serial * SITE_STRIDE + sites.length;
    // A string: `join` copies it, where a number would be formatted on every render.
    pending += run.length > 1 ? `,"${site}");` : `__o.push("${site}");`;
    sites.push(run);
    run = [""];
  };
  const emitText = (start: number, end: number) => {
    if (end <= start) return;
    run[run.length - 1] += source.slice(start, end);
    advance(start, end);
  };

  while (pos < source.length) {
    const open = findTag(source, pos);
    if (open === undefined) {
      emitText(pos, source.length);
      break;
    }
    emitText(pos, open.start);
    pos = open.start;
    const close = source.indexOf("?>", open.bodyStart);
    if (close < 0) {
      throw new ScriptError(
        "SyntaxError",
        `unclosed <?${open.kind} tag`,
        file,
        line,
        open.start - lineStart + 1,
        `    at ${file}:${line}:${open.start - lineStart + 1}\n`,
      );
    }
    let after = close + 2;
    advance(pos, open.bodyStart);
    if (open.kind === "js") {
      closeRun();
      emitVerbatim(open.bodyStart, close, pending);
      pending = "";
      code += "\n;";
      lines.push(line);
      cols.push(0);
      if (source.charCodeAt(after) === 10) after++;
      else if (source.charCodeAt(after) === 13 && source.charCodeAt(after + 1) === 10) after += 2;
    } else if (open.kind === "=") {
      // A value that may call code (which may print) starts a run, so that
      // what precedes it is output before anything it prints.
      if (MAY_CALL.test(source.slice(open.bodyStart, close))) closeRun();
      emitVerbatim(open.bodyStart, close, pending + (run.length === 1 ? "__o.push((" : ",("));
      pending = "";
      code += "\n)";
      lines.push(line);
      cols.push(0);
      run.push("");
    } else {
      closeRun();
      const target = source
        .slice(open.bodyStart, close)
        .trim()
        .replace(/^(["'])(.*)\1$/, "$2");
      freshLine(line, 0);
      code += `${pending}include(${JSON.stringify(target)});`;
      pending = "";
      if (source.charCodeAt(after) === 10) after++;
      else if (source.charCodeAt(after) === 13 && source.charCodeAt(after + 1) === 10) after += 2;
    }
    advance(close, after);
    pos = after;
  }
  closeRun();
  if (pending || first) {
    freshLine(line, 0);
    code += pending;
  }
  return { file, code, lines: Int32Array.from(lines), cols: Int32Array.from(cols), sites, serial };
}

/** Compiles a plain script (a `.js` include): the code is the source, the map is the identity. */
export function compileScript(source: string, file: string): CompiledTemplate {
  let n = 1;
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) n++;
  const lines = new Int32Array(n);
  for (let i = 0; i < n; i++) lines[i] = i + 1;
  return { file, code: source, lines, cols: new Int32Array(n), sites: [], serial: ++serials };
}

interface Tag {
  kind: "js" | "=" | "import";
  start: number;
  bodyStart: number;
}

function findTag(source: string, from: number): Tag | undefined {
  let i = source.indexOf("<?", from);
  while (i >= 0) {
    const c = source.charCodeAt(i + 2);
    if (c === 61 /* = */) return { kind: "=", start: i, bodyStart: i + 3 };
    if (source.startsWith("js", i + 2) && isSpace(source.charCodeAt(i + 4))) {
      return { kind: "js", start: i, bodyStart: i + 4 };
    }
    if (source.startsWith("import", i + 2) && isSpace(source.charCodeAt(i + 8))) {
      return { kind: "import", start: i, bodyStart: i + 8 };
    }
    i = source.indexOf("<?", i + 2);
  }
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}
