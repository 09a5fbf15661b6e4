/**
 * Typed errors of the sandbox. A host maps them to responses in one place:
 * {@link ScriptError} → 500, {@link BudgetExceededError} and
 * {@link OutOfMemoryError} → 503.
 * @module
 */

/** Base class of every error the sandbox reports about a script. */
export class SandboxError extends Error {
  /** Site-relative file the error was raised in, when known. */
  readonly file: string | undefined;
  /** 1-based line in that file, when known. */
  readonly line: number | undefined;
  /** 1-based column in that file, when known. */
  readonly column: number | undefined;
  /** The stack inside the sandbox (file:line:column frames), not the host's. */
  readonly scriptStack: string;
  constructor(message: string, file?: string, line?: number, column?: number, scriptStack = "") {
    super(message);
    this.name = new.target.name;
    this.file = file;
    this.line = line;
    this.column = column;
    this.scriptStack = scriptStack;
  }
  /** `file:line:column: message`, the form a log line or a dev-mode error page shows. */
  describe(): string {
    const where = this.file
      ? `${this.file}${this.line ? `:${this.line}${this.column ? `:${this.column}` : ""}` : ""}: `
      : "";
    return `${where}${this.message}`;
  }
}

/** The script threw (or failed to compile): HTTP 500. */
export class ScriptError extends SandboxError {
  /** The script's error name (TypeError, SyntaxError, Error, …). */
  readonly errorName: string;
  constructor(errorName: string, message: string, file?: string, line?: number, column?: number, scriptStack = "") {
    super(`${errorName}: ${message}`, file, line, column, scriptStack);
    this.errorName = errorName;
  }
}

/** The script ran past its CPU-time budget and was interrupted: HTTP 503 / close 1011. */
export class BudgetExceededError extends SandboxError {
  readonly budgetMs: number;
  constructor(budgetMs: number, file?: string, line?: number, column?: number, scriptStack = "") {
    super(`script exceeded its CPU budget of ${budgetMs} ms`, file, line, column, scriptStack);
    this.budgetMs = budgetMs;
  }
}

/** The script ran past its memory limit: HTTP 503 / close 1011. */
export class OutOfMemoryError extends SandboxError {
  readonly limitBytes: number;
  constructor(limitBytes: number, file?: string, line?: number, column?: number, scriptStack = "") {
    super(`script exceeded its memory limit of ${limitBytes} bytes`, file, line, column, scriptStack);
    this.limitBytes = limitBytes;
  }
}

/** The HTTP status a host should answer for an error thrown by a page run. */
export function statusForError(error: unknown): 500 | 503 {
  return error instanceof BudgetExceededError || error instanceof OutOfMemoryError ? 503 : 500;
}

/** Where the first frame of a QuickJS stack points: "    at f (file:3:5)" or "    at file:3:5". */
export function firstFrame(stack: string): { file: string; line: number; column: number } | undefined {
  const m = /^\s*at (?:[^\n(]*\()?([^\n()]+?):(\d+)(?::(\d+))?\)?\s*$/m.exec(stack);
  if (!m) return undefined;
  return { file: m[1]!, line: Number(m[2]), column: m[3] ? Number(m[3]) : 0 };
}
