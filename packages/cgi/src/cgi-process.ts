/**
 * CGI/1.1 (RFC 3875): one process per request. The process gets its own
 * process group (detached), so a timeout or a cancelled request kills the
 * script and everything it started.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname } from "node:path";
import { OutputChannel } from "./response.ts";
import type { CgiLogger, CgiProgram, CgiRequestBody } from "./types.ts";

export const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export interface RunningProgram {
  out: OutputChannel;
  /** Kills the process group; the output fails with `reason` unless it ended already. */
  cancel(reason?: "timeout" | "cancelled"): void;
}

/** Splits a byte stream into text lines for the log. */
export function lineLogger(log: CgiLogger, prefix: string): { push(chunk: Uint8Array): void; flush(): void } {
  // Created on first use: most requests write nothing to stderr.
  let dec: TextDecoder | null = null;
  let pending = "";
  return {
    push(chunk) {
      dec ??= new TextDecoder();
      pending += dec.decode(chunk, { stream: true });
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        const line = pending.slice(0, nl).trimEnd();
        if (line) log("warn", `${prefix}: ${line}`);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
      if (pending.length > 8192) {
        log("warn", `${prefix}: ${pending}`);
        pending = "";
      }
    },
    flush() {
      if (dec === null) return;
      pending += dec.decode();
      if (pending.trim()) log("warn", `${prefix}: ${pending.trimEnd()}`);
      pending = "";
    },
  };
}

interface Sink {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): void;
  once(event: "drain" | "close" | "error", fn: () => void): unknown;
  off(event: "drain" | "close" | "error", fn: () => void): unknown;
  readonly destroyed: boolean;
}

/** Writes a request body with backpressure; resolves when written or when the sink went away. */
export async function pipeBody(body: CgiRequestBody, sink: Sink): Promise<void> {
  if (body === null || body instanceof Uint8Array) {
    sink.end(body ?? undefined);
    return;
  }
  const waitDrain = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        sink.off("drain", done);
        sink.off("close", done);
        sink.off("error", done);
        resolve();
      };
      sink.once("drain", done);
      sink.once("close", done);
      sink.once("error", done);
    });
  for await (const chunk of body) {
    if (sink.destroyed) return;
    if (!sink.write(chunk)) await waitDrain();
  }
  if (!sink.destroyed) sink.end();
}

export interface CgiSpawn {
  program: CgiProgram;
  /** The script (SCRIPT_FILENAME); executed itself when the program has no bin. */
  script: string;
  env: Map<string, string>;
  body: CgiRequestBody;
  log: CgiLogger;
  label: string;
}

function killGroup(child: ChildProcess) {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the whole process group (the child is its leader, spawned detached).
    process.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
}

export function runCgi(spec: CgiSpawn): RunningProgram {
  const { program, log, label } = spec;
  const env: Record<string, string> = { PATH: DEFAULT_PATH, ...program.env };
  for (const [k, v] of spec.env) env[k] = v;
  const bin = program.bin ?? spec.script;
  const args = program.bin ? (program.args ?? []) : [];
  let child: ChildProcess;
  let exited = false;
  // Filled in once the child exists; the channel may need it earlier only for pause/resume.
  const out = new OutputChannel(
    () => child?.stdout?.pause(),
    () => child?.stdout?.resume(),
  );
  try {
    child = spawn(bin, args, {
      cwd: dirname(spec.script),
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
  } catch (err) {
    const msg = `cannot start CGI program ${bin}: ${(err as Error).message}`;
    log("error", `${label}: ${msg}`);
    out.fail("crash", msg);
    return { out, cancel() {} };
  }
  const stderr = lineLogger(log, `${label} stderr`);
  let cancelledBy: string | null = null;
  let spawnFailed = false;
  child.on("error", (err: NodeJS.ErrnoException) => {
    spawnFailed = true;
    const msg =
      err.code === "ENOENT"
        ? `CGI program ${bin} not found`
        : err.code === "EACCES"
          ? `CGI program ${bin} is not executable`
          : `CGI program ${bin} failed: ${err.message}`;
    log("error", `${label}: ${msg}`);
    out.fail("crash", msg);
  });
  child.stdout!.on("data", (chunk: Uint8Array) => out.push(chunk));
  child.stderr!.on("data", (chunk: Uint8Array) => stderr.push(chunk));
  child.stdin!.on("error", () => {
    // EPIPE: the program exited or closed stdin without reading the body; its output decides.
  });
  child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
    exited = true;
    stderr.flush();
    if (cancelledBy !== null || spawnFailed) return;
    if (signal !== null) {
      const msg = `CGI program ${bin} was killed by ${signal}`;
      log("error", `${label}: ${msg}`);
      out.fail("crash", msg);
      return;
    }
    if (code !== 0) log("error", `${label}: CGI program ${bin} exited with code ${code}`);
    out.end();
  });
  pipeBody(spec.body, child.stdin!).catch((err) => {
    log("warn", `${label}: request body failed: ${String(err)}`);
    if (!exited) child.stdin!.destroy();
  });
  return {
    out,
    cancel(reason = "cancelled") {
      if (exited || cancelledBy !== null) return;
      cancelledBy = reason;
      out.fail(reason, reason === "timeout" ? `CGI program ${bin} timed out` : "request cancelled");
      killGroup(child);
    },
  };
}
