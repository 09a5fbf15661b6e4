/**
 * A pool of worker threads for CPU-bound jobs, so a handler never blocks the
 * event loop. `run(moduleUrl, input)` imports the module in a worker and calls
 * its default export with `input`; the promise settles with its result.
 *
 * One worker source runs on every runtime: Node's worker_threads (started from
 * a data: URL) or the web Worker of Deno and Bun (started from a blob URL).
 */
import { coreCount, runtime } from "./runtime.ts";

/** The code each worker runs: import the job module once, call its default export per job. */
const WORKER_SOURCE = `
const modules = new Map();
let typescriptHooks = false;
async function handle(msg, post) {
  try {
    // Node 20 cannot load TypeScript by itself: register tsx's hooks in this thread when the host found it.
    if (msg.tsx && !typescriptHooks) { (await import(msg.tsx)).register(); typescriptHooks = true; }
    let mod = modules.get(msg.url);
    if (!mod) { mod = await import(msg.url); modules.set(msg.url, mod); }
    if (typeof mod.default !== "function") throw new TypeError("job module " + msg.url + " has no default export function");
    const value = await mod.default(msg.input);
    post({ id: msg.id, ok: true, value });
  } catch (e) {
    post({ id: msg.id, ok: false, error: { name: e && e.name || "Error", message: e && e.message || String(e), stack: e && e.stack } });
  }
}
const wt = typeof self === "undefined" ? await import("node:worker_threads") : undefined;
if (wt && wt.parentPort) {
  wt.parentPort.on("message", (m) => handle(m, (r) => wt.parentPort.postMessage(r)));
} else {
  self.onmessage = (ev) => handle(ev.data, (r) => self.postMessage(r));
}
`;

let tsxHooks: string | null | undefined;
/** Where tsx's hook API is, if installed: Node 20 worker threads need it to import `.ts` job modules. */
function tsxHooksUrl(): string | undefined {
  if (tsxHooks === undefined) {
    try {
      tsxHooks = import.meta.resolve("tsx/esm/api");
    } catch {
      tsxHooks = null;
    }
  }
  return tsxHooks ?? undefined;
}

export interface JobPoolOptions {
  /** Number of worker threads; default: the number of cores. */
  size?: number;
  /** Default per-job time limit in milliseconds; a job over it is stopped (its worker is replaced). Default 30 s. */
  timeoutMs?: number;
  /**
   * Jobs that may wait for a busy pool; `run` rejects with `JobQueueFullError` beyond (an HTTP
   * handler that lets it escape answers 503 with Retry-After). Default 10,000.
   */
  maxQueue?: number;
}

export interface JobRunOptions {
  timeoutMs?: number;
  /** Buffers to transfer to the worker instead of copying. */
  transfer?: ArrayBuffer[];
}

/** A job's error, re-created on the host side with the worker's message and stack. */
export class JobError extends Error {
  override readonly name = "JobError";
  constructor(
    message: string,
    readonly workerStack?: string,
  ) {
    super(message);
  }
}

/** The pool is saturated: every worker is busy and `maxQueue` jobs already wait. */
export class JobQueueFullError extends Error {
  override readonly name = "JobQueueFullError";
}

/** A job that ran past its time limit. */
export class JobTimeoutError extends Error {
  override readonly name = "JobTimeoutError";
}

interface WorkerLike {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): void;
}

interface Pending {
  id: number;
  url: string;
  input: unknown;
  transfer: ArrayBuffer[] | undefined;
  timeoutMs: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  worker: WorkerLike;
  job: Pending | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { message: string; stack?: string } };

async function startWorker(onMessage: (reply: Reply) => void, onError: (error: Error) => void): Promise<WorkerLike> {
  if (runtime === "node") {
    const { Worker } = await import("node:worker_threads");
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`));
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.unref();
    return {
      post: (m, transfer) => worker.postMessage(m, transfer),
      terminate: () => void worker.terminate(),
    };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  worker.onmessage = (event: MessageEvent) => onMessage(event.data as Reply);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    onError(new Error(event.message));
  };
  (worker as { unref?: () => void }).unref?.();
  return {
    post: (m, transfer) => worker.postMessage(m, transfer ?? []),
    terminate: () => worker.terminate(),
  };
}

export class JobPool {
  readonly size: number;
  private readonly timeoutMs: number;
  readonly maxQueue: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private starting = 0;
  private nextId = 1;
  private closed = false;

  constructor(options: JobPoolOptions = {}) {
    this.size = Math.max(1, options.size ?? coreCount());
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxQueue = Math.max(0, options.maxQueue ?? 10_000);
  }

  /** Runs the default export of `moduleUrl` with `input` on a worker thread. */
  run<T = unknown>(moduleUrl: string | URL, input?: unknown, options: JobRunOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error("job pool is closed"));
    // Waiting jobs beyond the workers that are free or about to start are bounded by maxQueue.
    if (this.running + this.queue.length >= this.size + this.maxQueue) {
      return Promise.reject(
        new JobQueueFullError(`job pool saturated: ${this.running} running, ${this.queue.length} waiting`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        id: this.nextId++,
        url: String(moduleUrl),
        input,
        transfer: options.transfer,
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.dispatch();
    });
  }

  /** Jobs waiting for a free worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Jobs running on a worker now. */
  get running(): number {
    let n = 0;
    for (const s of this.slots) if (s.job !== undefined) n++;
    return n;
  }

  /** Stops every worker; queued and running jobs are rejected. */
  close(): void {
    this.closed = true;
    const error = new Error("job pool closed");
    for (const job of this.queue.splice(0)) job.reject(error);
    for (const slot of this.slots.splice(0)) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.job?.reject(error);
      slot.worker.terminate();
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = this.slots.find((s) => s.job === undefined);
      if (idle) {
        this.assign(idle, this.queue.shift()!);
        continue;
      }
      if (this.slots.length + this.starting < this.size) {
        this.spawn();
      }
      return;
    }
  }

  private spawn(): void {
    this.starting++;
    const slot: Slot = { worker: { post() {}, terminate() {} }, job: undefined, timer: undefined };
    startWorker(
      (reply) => this.settle(slot, reply),
      (error) => this.fail(slot, error),
    ).then(
      (worker) => {
        this.starting--;
        if (this.closed) return worker.terminate();
        slot.worker = worker;
        this.slots.push(slot);
        this.dispatch();
      },
      (error: Error) => {
        this.starting--;
        for (const job of this.queue.splice(0)) job.reject(error);
      },
    );
  }

  private assign(slot: Slot, job: Pending): void {
    slot.job = job;
    slot.timer = setTimeout(() => {
      this.replace(slot);
      job.reject(new JobTimeoutError(`job ${job.url} ran past its ${job.timeoutMs} ms limit`));
    }, job.timeoutMs);
    const tsx = runtime === "node" && /\.[mc]?tsx?$/.test(job.url) ? tsxHooksUrl() : undefined;
    slot.worker.post({ id: job.id, url: job.url, input: job.input, tsx }, job.transfer);
  }

  private settle(slot: Slot, reply: Reply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    if (reply.ok) job.resolve(reply.value);
    else job.reject(new JobError(reply.error.message, reply.error.stack));
    this.dispatch();
  }

  /** An uncaught error killed the worker: fail its job and start a fresh worker. */
  private fail(slot: Slot, error: Error): void {
    const job = slot.job;
    this.replace(slot);
    job?.reject(new JobError(error.message));
  }

  private replace(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.dispatch();
  }
}
