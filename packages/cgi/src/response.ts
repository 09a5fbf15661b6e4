/**
 * The program's output (CGI stdout or FastCGI STDOUT) as a stream with
 * backpressure, and the RFC 3875 §6 response parser that turns it into a
 * {@link CgiResult} as soon as the head is complete.
 *
 * @module
 */
import { CgiAbortedError, type CgiAbortReason, type CgiBody, type CgiResult } from "./types.ts";

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

/**
 * A single-consumer byte queue between a program and the response body.
 * The source is paused while more than HIGH_WATER bytes wait unread.
 */
export class OutputChannel {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private done = false;
  private failure: CgiAbortedError | null = null;
  private waiter: (() => void) | null = null;
  private paused = false;
  /** Called once when the output ended or failed (the gateway clears its timer there). */
  onSettled: (() => void) | null = null;

  constructor(
    private readonly pause: () => void,
    private readonly resume: () => void,
  ) {}

  get finished(): boolean {
    return this.done || this.failure !== null;
  }

  push(chunk: Uint8Array): void {
    if (this.finished || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (!this.paused && this.queued > HIGH_WATER) {
      this.paused = true;
      this.pause();
    }
    this.wake();
  }

  end(): void {
    if (this.finished) return;
    this.done = true;
    this.settle();
  }

  fail(reason: CgiAbortReason, message: string): void {
    if (this.finished) return;
    this.failure = new CgiAbortedError(reason, message);
    this.settle();
  }

  private settle() {
    const f = this.onSettled;
    this.onSettled = null;
    f?.();
    this.wake();
  }

  private wake() {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Next chunk, null at the end; throws the failure (queued data first). */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.length;
        if (this.paused && this.queued < LOW_WATER) {
          this.paused = false;
          this.resume();
        }
        return chunk;
      }
      if (this.failure) throw this.failure;
      if (this.done) return null;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
  }

  /**
   * Everything left, when the output already ended successfully (nothing more
   * can come); else null and the queue is untouched.
   */
  takeAll(): Uint8Array[] | null {
    if (!this.done || this.failure !== null) return null;
    const all = this.queue.splice(0);
    this.queued = 0;
    if (this.paused) {
      this.paused = false;
      this.resume();
    }
    return all;
  }

  /** Failures win over queued data: used when the head is not complete yet. */
  get failed(): CgiAbortedError | null {
    return this.failure;
  }
}

export interface ParseOptions {
  maxHeaderBytes: number;
  /** Stops the program (kill / FastCGI abort). */
  cancel: () => void;
  /** Called once the body ended normally or failed (for logging / pool bookkeeping). */
  onBodyError?: (err: CgiAbortedError) => void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DROP = new Set(["connection", "keep-alive", "transfer-encoding", "status"]);
const latin1 = new TextDecoder("latin1");

function findHeadEnd(buf: Uint8Array, from: number): { end: number; bodyStart: number } | null {
  // RFC 3875 §6.1: lines end with NL, which a server accepts as LF or CRLF.
  for (let i = Math.max(0, from - 3); i < buf.length; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i + 1] === 10) return { end: i, bodyStart: i + 2 };
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return { end: i, bodyStart: i + 3 };
  }
  return null;
}

function errorFor(err: CgiAbortedError): CgiResult {
  return { type: "error", status: err.reason === "timeout" ? 504 : 502, message: err.message };
}

/** Reads the head from `out`; the rest of `out` becomes the body. */
export async function readResponse(out: OutputChannel, opts: ParseOptions): Promise<CgiResult> {
  let buf: Uint8Array = new Uint8Array(0);
  let head: { end: number; bodyStart: number } | null = null;
  while (head === null) {
    let chunk: Uint8Array | null;
    try {
      chunk = await out.read();
    } catch (err) {
      return errorFor(err as CgiAbortedError);
    }
    if (chunk === null) {
      opts.cancel();
      return {
        type: "error",
        status: 502,
        message:
          buf.length === 0 ? "program produced no output" : "program output ended before the end of its header section",
      };
    }
    const scanFrom = buf.length;
    if (scanFrom === 0) buf = chunk;
    else {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
    }
    head = findHeadEnd(buf, scanFrom);
    if (head === null && buf.length > opts.maxHeaderBytes) {
      opts.cancel();
      return { type: "error", status: 502, message: `response header section exceeds ${opts.maxHeaderBytes} bytes` };
    }
  }
  const text = latin1.decode(buf.subarray(0, head.end));
  const headers: Array<[string, string]> = [];
  let status: number | null = null;
  let statusText = "";
  let location: string | null = null;
  let contentType = false;
  let length: number | null = null;
  for (const rawLine of text.split("\n")) {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      opts.cancel();
      return { type: "error", status: 502, message: `malformed response header line ${JSON.stringify(line)}` };
    }
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === "status") {
      // RFC 3875 §6.3.3: Status = "Status:" status-code SP reason-phrase
      const m = /^([1-5]\d\d)(?:\s+(.*))?$/.exec(value);
      if (m === null) {
        opts.cancel();
        return { type: "error", status: 502, message: `malformed Status header ${JSON.stringify(value)}` };
      }
      status = Number(m[1]);
      statusText = m[2] ?? "";
    } else if (lower === "location") {
      location = value;
    } else if (lower === "content-type") {
      contentType = true;
    } else if (lower === "content-length") {
      const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
      if (Number.isNaN(n) || (length !== null && length !== n)) {
        opts.cancel();
        return { type: "error", status: 502, message: `malformed Content-Length ${JSON.stringify(value)}` };
      }
      length = n;
    }
    if (!DROP.has(lower)) headers.push([name, value]);
  }
  if (status === null && location === null && !contentType) {
    opts.cancel();
    return { type: "error", status: 502, message: "response has no Status, Location or Content-Type header" };
  }
  const rest = buf.subarray(head.bodyStart);
  if (location !== null && status === null) {
    // RFC 3875 §6.2.2: a local path with no Status is a local redirect (the server fetches it);
    // §6.2.3: an absolute URI is a client redirect, 302.
    if (location.startsWith("/") && !location.startsWith("//")) {
      opts.cancel();
      return { type: "local-redirect", location };
    }
    status = 302;
    statusText = "Found";
  }
  return {
    type: "response",
    status: status ?? 200,
    statusText: statusText || (status === null ? "OK" : ""),
    headers,
    body: makeBody(out, rest, length, opts),
  };
}

/** The rest of the output in one piece when it already ended successfully, else null. */
function takeWhole(out: OutputChannel, first: Uint8Array): Uint8Array | null {
  const more = out.takeAll();
  if (more === null) return null;
  if (more.length === 0) return first;
  let size = first.length;
  for (const m of more) size += m.length;
  const body = new Uint8Array(size);
  body.set(first);
  let at = first.length;
  for (const m of more) {
    body.set(m, at);
    at += m.length;
  }
  return body;
}

function makeBody(out: OutputChannel, first: Uint8Array, length: number | null, opts: ParseOptions): CgiBody {
  let started = false;
  let cancelled = false;
  const cancel = () => {
    if (cancelled) return;
    cancelled = true;
    opts.cancel();
  };
  let complete: Uint8Array | null = null;
  const whole = takeWhole(out, first);
  if (whole !== null) {
    if (length === null || whole.length >= length) {
      complete = length === null || whole.length === length ? whole : whole.subarray(0, length);
    } else first = whole; // fewer bytes than announced: iterating reports it
  }
  if (complete !== null) {
    const bytes = complete;
    return {
      length,
      cancel,
      complete: bytes,
      async *[Symbol.asyncIterator]() {
        if (started) throw new Error("a CGI response body can be read once");
        started = true;
        if (bytes.length > 0) yield bytes;
      },
    };
  }
  return {
    length,
    cancel,
    complete: null,
    async *[Symbol.asyncIterator]() {
      if (started) throw new Error("a CGI response body can be read once");
      started = true;
      let sent = 0;
      let ok = false;
      try {
        let chunk: Uint8Array | null = first.length > 0 ? first : await out.read();
        while (chunk !== null) {
          if (length !== null && sent + chunk.length > length) {
            // More than announced: the first `length` bytes are the response; the rest is ignored.
            const cut = chunk.subarray(0, length - sent);
            sent += cut.length;
            if (cut.length > 0) yield cut;
            break;
          }
          sent += chunk.length;
          yield chunk;
          if (length !== null && sent === length) break;
          chunk = await out.read();
        }
        if (length !== null && sent < length) {
          throw new CgiAbortedError("crash", `program ended after ${sent} of ${length} announced body bytes`);
        }
        ok = true;
      } catch (err) {
        const e =
          err instanceof CgiAbortedError ? err : new CgiAbortedError("crash", `response body failed: ${String(err)}`);
        opts.onBodyError?.(e);
        throw e;
      } finally {
        // Early exit by the consumer (client gone) or an error: stop the program.
        if (!ok) cancel();
      }
    },
  };
}
