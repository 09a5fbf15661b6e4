/**
 * Page scripts on their own thread. {@link PageEngine} checks a page's CPU
 * budget between bytecodes, so a long native call (`JSON.parse` of a large
 * string, in a loop of a few turns) runs past the budget, and on the host's
 * main thread that stalls every connection. A PageThread renders a site's
 * pages in a worker with the same engine and watches it: a worker that does
 * not answer a ping within `watchdogMs` is killed, the renders it had
 * started fail with {@link BudgetExceededError} (503), and the ones it had
 * not started go to a fresh worker.
 * @module
 */
import { BudgetExceededError, OutOfMemoryError, ScriptError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import type { DirectoryFiles } from "./files.ts";
import { nextTurn } from "./next-turn.ts";
import { type LogEntry, type PageEngineOptions, PageNotFoundError, type PageRequest, type PageResult } from "./page.ts";
import type { DoneItem, FromPageWorker, PageOp, RenderItem, SerializedError, ToPageWorker } from "./page-protocol.ts";
import { defaultWatchdogMs, type Limits, withDefaults } from "./quickjs.ts";
import type { KeyValueStore, StorageListener } from "./storage.ts";
import { startWorker, type WorkerHandle, workerUrl } from "./worker-port.ts";

export interface PageThreadOptions
  extends Pick<PageEngineOptions, "limits" | "intrinsics" | "revalidateMs" | "asyncTimeoutMs" | "bytecode" | "log"> {
  /** The site's files: a folder (the worker reads it with its own {@link DirectoryFiles}). */
  files: DirectoryFiles | { root: string };
  /**
   * `storage` for pages. The worker keeps a copy; writes come back to this
   * store, and changes made elsewhere reach the copy when the store reports
   * them (`onChange`, as {@link SiteStorage} does). Without it a page gets a
   * store that is empty per request.
   */
  storage?: SharedStore;
  /** `events` for pages (they emit; the hub lives here). */
  events?: EventHub;
  /** `fetch` for pages, by the worker's global fetch (a custom fetch function cannot cross threads). */
  fetch?: { allow: string[]; maxBytes?: number; timeoutMs?: number };
  /** Kill the worker when it has not answered for this long while rendering. Default: 10 × cpuMs, at least 2 s. */
  watchdogMs?: number;
}

/** The site's store as the thread uses it ({@link SiteStorage} and {@link MemoryStorage} are ones). */
export interface SharedStore extends KeyValueStore {
  /** `origin` is handed to change listeners, so the thread does not send its own writes back. */
  setJson(key: string, json: string, origin?: unknown): void;
  delete(key: string, origin?: unknown): boolean;
  onChange?(listener: StorageListener): () => void;
  /** The store's size limit, enforced in the worker's copy too. */
  readonly maxBytes?: number;
}

interface Pending {
  path: string;
  request: PageRequest;
  resolve(r: PageResult): void;
  reject(e: unknown): void;
}

export class PageThread {
  private readonly options: PageThreadOptions;
  /** The limits in force (defaults filled in). */
  readonly limits: Required<Limits>;
  private worker: WorkerHandle | undefined;
  /** A worker is being started (its renders are posted once it is there). */
  private starting = false;
  private generation = 0;
  private started = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Renders asked for in this turn of the event loop, sent together. */
  private outbox: RenderItem[] = [];
  private scheduled = false;
  private storageChanges: [string, string | null][] = [];
  private readonly offStorage: (() => void) | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private heard = true;
  private disposed = false;
  /** Set by {@link PageThread.close}: called when the last render in flight has finished. */
  private onIdle: (() => void) | undefined;
  private bytecode = false;
  /** Workers the watchdog killed. */
  restarts = 0;

  /** Starts the worker and resolves once it has loaded QuickJS. */
  static async create(options: PageThreadOptions): Promise<PageThread> {
    const thread = new PageThread(options);
    await thread.start();
    return thread;
  }

  private constructor(options: PageThreadOptions) {
    this.options = options;
    this.limits = withDefaults(options.limits);
    this.offStorage = options.storage?.onChange?.((key, json, origin) => {
      if (origin !== this) this.storageChanged(key, json ?? null);
    });
  }

  /** How long a rendering worker may go without answering (see {@link PageThreadOptions.watchdogMs}). */
  get watchdogMs(): number {
    return this.options.watchdogMs ?? defaultWatchdogMs(this.limits);
  }

  /** True when the worker's engine runs pages from bytecode (see {@link PageEngineOptions.bytecode}). */
  get usesBytecode(): boolean {
    return this.bytecode;
  }

  /**
   * Renders `path` for `request` on the worker. Resolves and rejects as
   * {@link PageEngine.render} does; a render the watchdog stopped rejects
   * with {@link BudgetExceededError}.
   */
  render(path: string, request: PageRequest): Promise<PageResult> {
    if (this.disposed) return Promise.reject(new Error("PageThread is disposed"));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { path, request, resolve, reject });
      if (this.worker) {
        this.outbox.push([id, path, request]);
        this.scheduleFlush();
      } else if (!this.starting) void this.start().catch(() => {});
    });
  }

  /** Forgets compiled templates (all, or one file) in the worker. Without a worker there is nothing to forget: the next one compiles afresh. */
  invalidate(path?: string): void {
    this.post(path === undefined ? { t: "invalidate" } : { t: "invalidate", path });
  }

  /**
   * Stops the worker once the renders in flight have finished (as a site
   * retired by a reload must: its requests in progress still get their
   * pages). Renders asked for meanwhile are still taken. A stuck render is
   * ended by the watchdog, so this resolves in bounded time.
   */
  close(): Promise<void> {
    if (this.pending.size === 0 || this.disposed) {
      this.dispose();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.onIdle = () => {
        this.dispose();
        resolve();
      };
    });
  }

  /** Stops the worker now; renders in flight reject. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.offStorage?.();
    this.stopWorker();
    const error = new Error("PageThread is disposed");
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private post(m: ToPageWorker): void {
    this.worker?.post(m);
  }

  private scheduleFlush(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    nextTurn(() => {
      this.scheduled = false;
      this.sendRenders();
    });
  }

  /** Sends the renders asked for since the last flush in one message (after the storage changes made before). */
  private sendRenders(): void {
    if (this.outbox.length === 0 || !this.worker) return;
    this.sendStorageChanges();
    const json = JSON.stringify(this.outbox);
    this.outbox = [];
    this.post({ t: "renders", json });
    this.armWatchdog();
  }

  private start(): Promise<void> {
    const generation = ++this.generation;
    this.starting = true;
    this.started = new Int32Array(new SharedArrayBuffer(4));
    let loaded!: () => void;
    let failed!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      loaded = resolve;
      failed = reject;
    });
    const lost = (e: Error) => {
      if (generation !== this.generation) return;
      this.starting = false;
      failed(e);
      // Everything this worker had is lost with it; the next render starts a new one.
      this.stopWorker();
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.checkIdle();
    };
    void startWorker(
      workerUrl("page-worker"),
      (m) => {
        if (generation === this.generation) this.fromWorker(m as FromPageWorker, loaded, lost);
      },
      (e) => lost(new ScriptError("Error", `page worker failed: ${(e as Error)?.message ?? String(e)}`)),
    ).then(
      (worker) => {
        if (generation !== this.generation || this.disposed) {
          worker.terminate();
          return;
        }
        this.starting = false;
        this.worker = worker;
        const s = this.options.storage;
        const o = this.options;
        const init: ToPageWorker = {
          t: "init",
          root: o.files.root,
          limits: this.limits,
          storage: s ? entries(s) : null,
          started: this.started.buffer as SharedArrayBuffer,
          ...(s?.maxBytes !== undefined ? { storageMaxBytes: s.maxBytes } : {}),
          ...(o.fetch ? { fetch: o.fetch } : {}),
          ...(o.intrinsics ? { intrinsics: o.intrinsics } : {}),
          ...(o.revalidateMs !== undefined ? { revalidateMs: o.revalidateMs } : {}),
          ...(o.asyncTimeoutMs !== undefined ? { asyncTimeoutMs: o.asyncTimeoutMs } : {}),
          ...(o.bytecode !== undefined ? { bytecode: o.bytecode } : {}),
        };
        this.storageChanges = [];
        worker.post(init);
        // Renders waiting for a worker (the first, or one after a kill) go in their order.
        this.outbox = [...this.pending].map(([id, p]): RenderItem => [id, p.path, p.request]);
        this.sendRenders();
      },
      (e) => lost(e instanceof Error ? e : new Error(String(e))),
    );
    return ready;
  }

  private stopWorker(): void {
    this.generation++;
    this.worker?.terminate();
    this.worker = undefined;
    // Unsent renders stay in `pending`: the next worker gets them from there.
    this.outbox = [];
    if (this.watchdog !== undefined) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private fromWorker(m: FromPageWorker, loaded: () => void, lost: (e: Error) => void): void {
    this.heard = true;
    switch (m.t) {
      case "ready":
        this.bytecode = m.bytecode;
        loaded();
        return;
      case "failed":
        lost(new Error(`page worker could not start: ${m.message}`));
        return;
      case "pong":
        return;
      case "done": {
        let body = 0;
        for (const [id, ops, status, headers, error] of JSON.parse(m.json) as DoneItem[]) {
          this.apply(ops);
          const bytes = status === null ? undefined : new Uint8Array(m.bodies[body++]!);
          const p = this.pending.get(id);
          if (!p) continue;
          this.pending.delete(id);
          if (bytes) p.resolve({ status: status!, headers: headers!, body: bytes });
          else p.reject(this.rebuild(error!));
        }
        this.checkIdle();
      }
    }
  }

  /** Applies a page's operations here: log lines, storage writes, events. */
  private apply(ops: PageOp[]): void {
    const o = this.options;
    for (const op of ops) {
      if (op[0] === "log") {
        o.log?.({ level: op[1], message: op[2], file: op[3] } satisfies LogEntry);
      } else if (op[0] === "emit") {
        o.events?.emit(op[1], op[2]);
      } else {
        const [, key, json] = op;
        const s = o.storage;
        if (!s) continue;
        try {
          if (json === null) s.delete(key, this);
          else s.setJson(key, json, this);
        } catch (e) {
          o.log?.({ level: "error", message: `storage: ${(e as Error).message}`, file: "" });
          // The store refused the write (full after other writers): the worker's copy takes the store's value back.
          this.storageChanged(key, s.getJson(key) ?? null);
        }
      }
    }
  }

  /** Queues a change for the worker's copy; they go together, and before the next renders. */
  private storageChanged(key: string, json: string | null): void {
    if (this.storageChanges.length === 0) queueMicrotask(() => this.sendStorageChanges());
    this.storageChanges.push([key, json]);
  }

  private sendStorageChanges(): void {
    if (this.storageChanges.length === 0) return;
    const changes = this.storageChanges;
    this.storageChanges = [];
    this.post({ t: "st", changes });
  }

  private rebuild(e: SerializedError): Error {
    switch (e.kind) {
      case "notfound":
        return new PageNotFoundError(e.message, e.file);
      case "script":
        return new ScriptError(e.errorName ?? "Error", e.message, e.file, e.line, e.column, e.stack);
      case "budget":
        return new BudgetExceededError(this.limits.cpuMs, e.file, e.line, e.column, e.stack);
      case "memory":
        return new OutOfMemoryError(this.limits.memoryBytes, e.file, e.line, e.column, e.stack);
      default:
        return new Error(e.message);
    }
  }

  /**
   * While renders are in flight, pings the worker every half `watchdogMs`;
   * one that sent nothing since the last ping is stuck in a call the
   * engine's budget cannot interrupt.
   */
  private armWatchdog(): void {
    if (this.watchdog !== undefined || !this.worker) return;
    const ms = this.watchdogMs;
    this.heard = true;
    const tick = () => {
      this.watchdog = undefined;
      if (this.pending.size === 0 || !this.worker) return;
      if (!this.heard) {
        this.kill();
        return;
      }
      this.heard = false;
      this.post({ t: "ping" });
      this.watchdog = setTimeout(tick, ms / 2);
    };
    this.watchdog = setTimeout(tick, ms / 2);
  }

  /** The watchdog's verdict: renders the worker started fail, the others go to a fresh worker. */
  private kill(): void {
    const lastStarted = Atomics.load(this.started, 0);
    this.stopWorker();
    this.restarts++;
    const ms = this.watchdogMs;
    for (const [id, p] of this.pending) {
      if (id > lastStarted) continue;
      this.pending.delete(id);
      const error = new BudgetExceededError(
        this.limits.cpuMs,
        p.path,
        undefined,
        undefined,
        "page worker unresponsive: restarted",
      );
      // The log line says what happened: a budget the engine could not enforce, ended by the watchdog.
      error.message += ` (stuck in a call the budget cannot interrupt: its worker did not answer for ${ms} ms and was restarted)`;
      p.reject(error);
    }
    if (this.pending.size > 0) void this.start().catch(() => {});
    else this.checkIdle();
  }

  private checkIdle(): void {
    if (this.pending.size === 0) this.onIdle?.();
  }
}

/** Every entry of `store` as JSON text (the seed of the worker's copy). */
function entries(store: KeyValueStore): [string, string][] {
  const out: [string, string][] = [];
  for (const key of store.keys()) {
    const json = store.getJson(key);
    if (json !== undefined) out.push([key, json]);
  }
  return out;
}
