/**
 * The host side of one websocket script: owns its worker thread, batches
 * events to it once per tick, applies what the script does (send, close,
 * broadcast, log, storage, events) through callbacks, restarts the script
 * when it runs out of CPU budget or memory (clients closed with 1011) and
 * reloads it on request (clients closed with 1012).
 * @module
 */
import { BudgetExceededError, OutOfMemoryError, type SandboxError, ScriptError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import { nextTurn } from "./next-turn.ts";
import type { LogEntry } from "./page.ts";
import { defaultWatchdogMs, type Limits, withDefaults } from "./quickjs.ts";
import type { SiteStorage } from "./storage.ts";
import { startWorker, type WorkerHandle, workerUrl } from "./worker-port.ts";
import type { ClientInfo, FromWorker, HostEvent, ToWorker, WorkerOp } from "./ws-protocol.ts";

export type { ClientInfo };

/** Close code for a script restarted after a budget or memory fault (RFC 6455 §7.4.1: 1011 internal error). */
export const CLOSE_SCRIPT_FAULT = 1011;
/** Close code for a script reloaded after a change (1012 service restart, IANA registry). */
export const CLOSE_SERVICE_RESTART = 1012;

export interface WebsocketScriptHostOptions {
  /** Site-relative file name of the script (for errors and logs). */
  file: string;
  /** The script's source, or a function that reads it (called at start and on every reload). */
  source: string | (() => string | Promise<string>);
  /** CPU budget per handler call, memory limit, stack size. */
  limits?: Limits;
  /** The site's storage (shared with pages and the site's other scripts). */
  storage?: SiteStorage;
  /** The site's event hub. */
  events?: EventHub;
  /**
   * Origins the script may `fetch` from (off without it). The worker uses its
   * runtime's global fetch; a custom fetch function cannot cross the thread.
   */
  fetch?: { allow: string[]; maxBytes?: number; timeoutMs?: number };
  /** Send `data` to the client's socket. */
  onSend(clientId: number, data: string | ArrayBuffer): void;
  /** Close the client's socket with `code` and `reason`. */
  onClose(clientId: number, code: number, reason: string): void;
  /**
   * Send `data` to every client of the script but `exceptId`. Default: `onSend`
   * to each connected client. A server that encodes a frame once for many
   * sockets (or relays to other processes) supplies its own.
   */
  onBroadcast?(data: string | ArrayBuffer, exceptId: number | undefined, clientIds: ReadonlySet<number>): void;
  /** The script's `log` / `console.*` and its uncaught handler errors. */
  onLog?(entry: LogEntry): void;
  /** Called when the script was stopped for its budget or memory (after its clients were closed). */
  onFault?(error: SandboxError): void;
  /**
   * Kill the worker if it shows no progress for this long while busy (a
   * native operation the interrupt handler cannot stop). Default: 10 × cpuMs, at least 2 s.
   */
  watchdogMs?: number;
}

/** What `onRequest` decided for a plain HTTP request to the script's path. */
export interface ScriptRequestResult {
  /** `client.redirect(url)` was called. */
  redirect?: string;
  /** The handler returned a string: the response body (HTML). */
  body?: string;
}

export class WebsocketScriptHost {
  private readonly options: WebsocketScriptHostOptions;
  private readonly limits: Required<Limits>;
  private worker: WorkerHandle | undefined;
  private generation = 0;
  private queue: HostEvent[] = [];
  private bins: ArrayBuffer[] = [];
  private storageQueue: [string, string | null][] = [];
  private scheduled = false;
  private seq = 0;
  private acked = 0;
  private lastProgress = 0;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private readonly clientIds = new Set<number>();
  private readonly requests = new Map<number, (r: ScriptRequestResult | undefined) => void>();
  private nextRequest = 1;
  private readonly subscriptions = new Map<string, () => void>();
  private readonly offStorage: (() => void) | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;
  private isReady = false;
  private startedAt = 0;
  private quickFaults = 0;
  /** Number of times the script was restarted after a fault. */
  restarts = 0;
  /** The error that stopped the current script from loading, if any. */
  loadError: SandboxError | undefined;

  constructor(options: WebsocketScriptHostOptions) {
    this.options = options;
    this.limits = withDefaults(options.limits);
    this.offStorage = options.storage?.onChange((key, json, origin) => {
      if (origin === this) return;
      this.storageQueue.push([key, json ?? null]);
      this.scheduleFlush();
    });
    this.starting = this.start();
  }

  /** Resolves when the script is loaded (its top level ran); rejects with its load error. */
  get ready(): Promise<void> {
    return (this.starting ?? Promise.resolve()).then(() => {
      if (this.loadError) throw this.loadError;
    });
  }

  /** Ids of the connected clients. */
  get clients(): ReadonlySet<number> {
    return this.clientIds;
  }

  /** A client connected (after the handshake): the script's `onConnect(client)`. */
  connect(info: ClientInfo): void {
    this.clientIds.add(info.id);
    if (this.loadError) {
      this.closeClient(info.id, CLOSE_SCRIPT_FAULT, "script failed to load");
      return;
    }
    this.enqueue(["c", info.id, clientJson(info)]);
  }

  /** A message from a client: text as a string, binary as bytes (copied, then transferred to the worker). */
  message(clientId: number, data: string | ArrayBuffer | Uint8Array): void {
    if (!this.clientIds.has(clientId)) return;
    if (typeof data === "string") {
      this.enqueue(["m", clientId, data]);
      return;
    }
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    this.enqueue(["m", clientId, { $b: this.bins.length }]);
    // Uint8Array.prototype.slice copies; a Node Buffer's own slice() is a view of the
    // shared receive buffer, which must never be transferred to the worker.
    this.bins.push(Uint8Array.prototype.slice.call(bytes).buffer);
  }

  /** A client's socket closed: the script's `onDisconnect(client, code, reason)`. */
  disconnect(clientId: number, code = 1005, reason = ""): void {
    if (!this.clientIds.delete(clientId)) return;
    this.enqueue(["d", clientId, code, reason]);
  }

  /** The round-trip time of the client's last ping, for `client.lag`. */
  lag(clientId: number, ms: number): void {
    if (this.clientIds.has(clientId)) this.enqueue(["l", clientId, ms]);
  }

  /**
   * A plain HTTP request to the script's path: runs `onRequest(client)`.
   * Resolves with the redirect or body the script chose, or undefined (the
   * host answers as it would without a script, e.g. 426 Upgrade Required).
   */
  request(info: ClientInfo): Promise<ScriptRequestResult | undefined> {
    if (this.loadError || this.stopped) return Promise.resolve(undefined);
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      this.requests.set(id, resolve);
      this.enqueue(["r", info.id, clientJson(info), id]);
    });
  }

  /**
   * Reloads the script (new source read through `source`): clients are closed
   * with 1012 "service restart", a fresh worker runs the new version.
   */
  reload(): Promise<void> {
    this.stopWorker(CLOSE_SERVICE_RESTART, "service restart");
    this.starting = this.start();
    return this.ready;
  }

  /** Stops the script for good: clients closed with 1001, worker terminated. */
  async terminate(): Promise<void> {
    await this.starting?.catch(() => {});
    this.stopped = true;
    this.stopWorker(1001, "going away");
    this.offStorage?.();
  }

  private async start(): Promise<void> {
    const generation = ++this.generation;
    this.loadError = undefined;
    this.isReady = false;
    this.startedAt = Date.now();
    const src = this.options.source;
    const source = typeof src === "string" ? src : await src();
    if (generation !== this.generation || this.stopped) return;
    let readyResolve!: () => void;
    const loaded = new Promise<void>((r) => (readyResolve = r));
    const worker = await startWorker(
      workerUrl("ws-worker"),
      (m) => {
        if (generation !== this.generation) return;
        this.fromWorker(m as FromWorker, readyResolve);
      },
      (e) => {
        if (generation !== this.generation) return;
        const error = new ScriptError(
          "Error",
          `worker failed: ${(e as Error)?.message ?? String(e)}`,
          this.options.file,
        );
        if (this.isReady) this.fault(error);
        else {
          this.loadError = error;
          this.log("error", `script failed to load: ${error.describe()}`);
          this.stopWorker(CLOSE_SCRIPT_FAULT, "script failed to load");
        }
        readyResolve();
      },
    );
    if (generation !== this.generation || this.stopped) {
      worker.terminate();
      return;
    }
    this.worker = worker;
    const init: ToWorker = {
      t: "init",
      file: this.options.file,
      source,
      limits: this.limits,
      storage: this.options.storage?.snapshot() ?? [],
    };
    if (this.options.fetch) init.fetch = this.options.fetch;
    worker.post(init);
    if (this.queue.length > 0 || this.storageQueue.length > 0) this.flush();
    await loaded;
  }

  private enqueue(e: HostEvent): void {
    this.queue.push(e);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      nextTurn(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.worker || (this.queue.length === 0 && this.storageQueue.length === 0)) return;
    // One batch in flight: while the worker works, events gather into the next batch.
    if (this.acked < this.seq) return;
    const bins = this.bins;
    const msg: ToWorker = { t: "batch", seq: ++this.seq, ev: JSON.stringify(this.queue), bins, st: this.storageQueue };
    this.queue = [];
    this.bins = [];
    this.storageQueue = [];
    this.worker.post(msg, bins);
    this.armWatchdog();
  }

  private armWatchdog(): void {
    if (this.watchdog !== undefined) return;
    const ms = this.options.watchdogMs ?? defaultWatchdogMs(this.limits);
    this.lastProgress = this.acked;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (this.acked >= this.seq) return;
      if (this.acked !== this.lastProgress) {
        this.armWatchdog();
        return;
      }
      this.fault(
        new BudgetExceededError(this.limits.cpuMs, this.options.file, undefined, undefined, "worker unresponsive"),
      );
    }, ms);
  }

  private fromWorker(m: FromWorker, loaded: () => void): void {
    switch (m.t) {
      case "ready":
        this.isReady = true;
        this.quickFaults = 0;
        loaded();
        return;
      case "out":
        this.acked = m.ack;
        if (m.ops !== "[]") for (const op of JSON.parse(m.ops) as WorkerOp[]) this.apply(op, m.bins);
        if (this.acked >= this.seq) {
          if (this.watchdog !== undefined) {
            clearTimeout(this.watchdog);
            this.watchdog = undefined;
          }
          // What gathered while the worker worked goes now (the replies were just written).
          if (this.queue.length > 0 || this.storageQueue.length > 0) this.scheduleFlush();
        }
        return;
      case "fatal": {
        const error =
          m.kind === "budget"
            ? new BudgetExceededError(this.limits.cpuMs, m.file, m.line, m.column, m.stack)
            : m.kind === "memory"
              ? new OutOfMemoryError(this.limits.memoryBytes, m.file, m.line, m.column, m.stack)
              : new ScriptError("Error", m.message, m.file, m.line, m.column, m.stack);
        if (m.kind === "script") {
          // The script does not load: keep no worker, refuse clients until a reload.
          this.loadError = error;
          this.log("error", `script failed to load: ${error.describe()}`);
          this.stopWorker(CLOSE_SCRIPT_FAULT, "script failed to load");
          loaded();
          return;
        }
        this.fault(error);
        loaded();
        return;
      }
    }
  }

  private apply(op: WorkerOp, bins: ArrayBuffer[]): void {
    const o = this.options;
    switch (op[0]) {
      case "s": {
        const d = op[2];
        if (this.clientIds.has(op[1])) o.onSend(op[1], typeof d === "string" ? d : bins[d.$b]!);
        return;
      }
      case "x":
        if (this.clientIds.has(op[1])) o.onClose(op[1], op[2], op[3]);
        return;
      case "b": {
        const except = op[2] < 0 ? undefined : op[2];
        const d = op[1];
        const data = typeof d === "string" ? d : bins[d.$b]!;
        if (o.onBroadcast) o.onBroadcast(data, except, this.clientIds);
        else for (const id of this.clientIds) if (id !== except) o.onSend(id, data);
        return;
      }
      case "log":
        this.log(op[1] as LogEntry["level"], op[2]);
        return;
      case "rr": {
        const resolve = this.requests.get(op[1]);
        this.requests.delete(op[1]);
        const r: ScriptRequestResult = {};
        if (op[2] !== null) r.redirect = op[2];
        if (op[3] !== null) r.body = op[3];
        resolve?.(r.redirect === undefined && r.body === undefined ? undefined : r);
        return;
      }
      case "sub": {
        const name = op[1];
        if (!this.subscriptions.has(name) && o.events) {
          this.subscriptions.set(
            name,
            o.events.on(name, (n, json) => this.enqueue(["e", n, json])),
          );
        }
        return;
      }
      case "unsub":
        this.subscriptions.get(op[1])?.();
        this.subscriptions.delete(op[1]);
        return;
      case "emit":
        o.events?.emit(op[1], op[2]);
        return;
      case "st":
        try {
          if (op[2] === null) o.storage?.delete(op[1], this);
          else o.storage?.setJson(op[1], op[2], this);
        } catch (e) {
          this.log("error", `storage: ${(e as Error).message}`);
        }
        return;
    }
  }

  private log(level: LogEntry["level"], message: string): void {
    this.options.onLog?.({ level, message, file: this.options.file });
  }

  /** Budget or memory fault: close clients with 1011, restart on a fresh worker. */
  private fault(error: SandboxError): void {
    this.restarts++;
    this.log("error", `script restarted: ${error.describe()}`);
    this.stopWorker(CLOSE_SCRIPT_FAULT, "script restarted");
    this.options.onFault?.(error);
    if (this.stopped) return;
    // A script that faults right after starting is restarted with a growing delay, not in a tight loop.
    const quick = Date.now() - this.startedAt < 1000;
    this.quickFaults = quick ? this.quickFaults + 1 : 0;
    const delay = this.quickFaults > 1 ? Math.min(5000, 50 * 2 ** this.quickFaults) : 0;
    const generation = this.generation;
    this.starting = new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() =>
      generation === this.generation && !this.stopped ? this.start() : undefined,
    );
  }

  private closeClient(id: number, code: number, reason: string): void {
    this.clientIds.delete(id);
    this.options.onClose(id, code, reason);
  }

  private stopWorker(code: number, reason: string): void {
    this.generation++;
    this.worker?.terminate();
    this.worker = undefined;
    if (this.watchdog !== undefined) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.queue = [];
    this.bins = [];
    this.storageQueue = [];
    this.seq = 0;
    this.acked = 0;
    for (const id of [...this.clientIds]) this.closeClient(id, code, reason);
    for (const resolve of this.requests.values()) resolve(undefined);
    this.requests.clear();
    for (const off of this.subscriptions.values()) off();
    this.subscriptions.clear();
  }
}

function clientJson(info: ClientInfo): string {
  let path = info.path;
  let query = info.query;
  const url = info.url ?? "/";
  if (path === undefined || query === undefined) {
    const q = url.indexOf("?");
    path ??= q < 0 ? url : url.slice(0, q);
    if (query === undefined) {
      const out: Record<string, string | string[]> = {};
      if (q >= 0) {
        for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
          const old = out[k];
          out[k] = old === undefined ? v : Array.isArray(old) ? [...old, v] : [old, v];
        }
      }
      query = out;
    }
  }
  return JSON.stringify({ url, path, query, headers: info.headers ?? {}, remoteAddress: info.remoteAddress ?? "" });
}
