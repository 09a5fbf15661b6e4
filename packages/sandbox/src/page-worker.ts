/**
 * Worker entry of a {@link PageThread}: one {@link PageEngine} rendering a
 * site's pages off the host's main thread. A page's storage writes, events
 * and log lines go back as operations with its answer; storage is a
 * {@link ReplicaStore} kept current by the host.
 * @module
 */
import { BudgetExceededError, OutOfMemoryError, ScriptError } from "./errors.ts";
import { EventHub } from "./events.ts";
import { DirectoryFiles } from "./files.ts";
import { nextTurn } from "./next-turn.ts";
import { PageEngine, PageNotFoundError, type PageRequest } from "./page.ts";
import type { DoneItem, FromPageWorker, PageOp, RenderItem, SerializedError, ToPageWorker } from "./page-protocol.ts";
import { ReplicaStore } from "./replica-store.ts";
import { parentPort } from "./worker-port.ts";

const port = await parentPort();
const send = (m: FromPageWorker, transfer?: ArrayBuffer[]) => port.post(m, transfer);

let engine: PageEngine | undefined;
let replica: ReplicaStore | undefined;
let started: Int32Array | undefined;
/** Messages that arrived while QuickJS was loading. */
const early: ToPageWorker[] = [];
let ops: PageOp[] = [];
/** Finished renders not yet sent, and their bodies. */
let done: DoneItem[] = [];
let bodies: ArrayBuffer[] = [];
let scheduled = false;

/** Sends what finished in this turn of the event loop as one message. */
function scheduleFlush(): void {
  if (scheduled) return;
  scheduled = true;
  nextTurn(() => {
    scheduled = false;
    flush();
  });
}

function flush(): void {
  // Operations of pages still waiting for their promises go with id 0.
  if (ops.length > 0) done.push([0, takeOps(), null, null, null]);
  if (done.length === 0) return;
  const message: FromPageWorker = { t: "done", json: JSON.stringify(done), bodies };
  const transfer = bodies;
  done = [];
  bodies = [];
  send(message, transfer);
}

/**
 * Renders waiting to start. They start in slices of about {@link SLICE_MS}:
 * between slices the worker sends the answers so far and answers the
 * host's pings, so a long batch of short renders is neither held back nor
 * taken by the watchdog for a stuck worker.
 */
const queue: RenderItem[] = [];
let queueHead = 0;
let draining = false;
const SLICE_MS = 5;

function drain(): void {
  const until = performance.now() + SLICE_MS;
  while (queueHead < queue.length && performance.now() < until) {
    const [id, path, request] = queue[queueHead++]!;
    void render(id, path, request);
  }
  if (queueHead < queue.length) {
    // The answers of this slice (pushed by the microtasks that run before this callback) go first.
    nextTurn(() => {
      flush();
      drain();
    });
    return;
  }
  queue.length = 0;
  queueHead = 0;
  draining = false;
}

function op(o: PageOp): void {
  ops.push(o);
  scheduleFlush();
}

function takeOps(): PageOp[] {
  const taken = ops;
  ops = [];
  return taken;
}

function serialize(e: unknown): SerializedError {
  if (e instanceof PageNotFoundError) return { kind: "notfound", message: e.message, file: e.file };
  if (e instanceof ScriptError || e instanceof BudgetExceededError || e instanceof OutOfMemoryError) {
    const where = { file: e.file, line: e.line, column: e.column, stack: e.scriptStack };
    if (e instanceof ScriptError)
      return { kind: "script", errorName: e.errorName, message: e.message.slice(e.errorName.length + 2), ...where };
    return { kind: e instanceof BudgetExceededError ? "budget" : "memory", message: e.message, ...where };
  }
  return { kind: "other", message: e instanceof Error ? e.message : String(e) };
}

async function render(id: number, path: string, request: PageRequest): Promise<void> {
  if (started) Atomics.store(started, 0, id);
  const running = engine!.render(path, request).then(
    (r) => r,
    (e: unknown) => ({ error: e }),
  );
  // A page without promises has finished here: its operations are its own, not the next page's.
  const before = takeOps();
  const r = await running;
  const pageOps = ops.length > 0 ? before.concat(takeOps()) : before;
  if ("error" in r) {
    done.push([id, pageOps, null, null, serialize(r.error)]);
  } else {
    const body = r.body;
    // The body's memory goes to the host without a copy when the array owns all of it.
    const buffer =
      body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
        ? (body.buffer as ArrayBuffer)
        : (body.slice().buffer as ArrayBuffer);
    done.push([id, pageOps, r.status, r.headers, null]);
    bodies.push(buffer);
  }
  scheduleFlush();
}

async function init(m: Extract<ToPageWorker, { t: "init" }>): Promise<void> {
  started = new Int32Array(m.started);
  const events = new EventHub();
  events.onEmit((name, json) => op(["emit", name, json]));
  if (m.storage) replica = new ReplicaStore(m.storage, m.storageMaxBytes, (k, v) => op(["st", k, v]));
  try {
    engine = await PageEngine.create({
      files: new DirectoryFiles(m.root),
      limits: m.limits,
      events,
      log: (e) => op(["log", e.level, e.message, e.file]),
      ...(replica ? { storage: replica } : {}),
      ...(m.fetch ? { fetch: m.fetch } : {}),
      ...(m.intrinsics ? { intrinsics: m.intrinsics } : {}),
      ...(m.revalidateMs !== undefined ? { revalidateMs: m.revalidateMs } : {}),
      ...(m.asyncTimeoutMs !== undefined ? { asyncTimeoutMs: m.asyncTimeoutMs } : {}),
      ...(m.bytecode !== undefined ? { bytecode: m.bytecode } : {}),
    });
  } catch (e) {
    send({ t: "failed", message: e instanceof Error ? e.message : String(e) });
    return;
  }
  send({ t: "ready", bytecode: engine.usesBytecode });
  for (const e of early.splice(0)) handle(e);
}

function handle(m: ToPageWorker): void {
  if (m.t === "init") {
    void init(m);
    return;
  }
  if (m.t === "ping") {
    send({ t: "pong" });
    return;
  }
  if (!engine) {
    early.push(m);
    return;
  }
  switch (m.t) {
    case "renders":
      for (const item of JSON.parse(m.json) as RenderItem[]) queue.push(item);
      if (!draining) {
        draining = true;
        drain();
      }
      return;
    case "st":
      for (const [k, v] of m.changes) replica?.changed(k, v);
      return;
    case "invalidate":
      engine.invalidate(m.path);
      return;
  }
}

port.onMessage((m) => handle(m as ToPageWorker));
