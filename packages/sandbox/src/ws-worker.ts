/**
 * Worker entry of a websocket script: loads QuickJS, runs the script with
 * {@link ScriptEngine}, answers each batch of events with one batch of
 * operations (binary payloads transferred, not copied).
 * @module
 */
import type { SandboxError } from "./errors.ts";
import { DEFAULT_LIMITS, loadQuickJS } from "./quickjs.ts";
import { parentPort } from "./worker-port.ts";
import { ScriptEngine } from "./ws-engine.ts";
import type { FromWorker, ToWorker } from "./ws-protocol.ts";

const port = await parentPort();
let engine: ScriptEngine | undefined;
const early: ToWorker[] = [];
/** Operations to report that the engine did not produce (an error of a batch). */
let extra = "";
let ack = 0;
let stopped = false;

const send = (m: FromWorker, t?: ArrayBuffer[]) => port.post(m, t);

function flush(): void {
  if (!engine) return;
  let { ops, bins } = engine.take();
  if (extra !== "") {
    ops = ops === "[]" ? `[${extra}]` : `${ops.slice(0, -1)},${extra}]`;
    extra = "";
  }
  send({ t: "out", ack, ops, bins }, bins);
}

function run(events: string, eventBins: ArrayBuffer[]): void {
  if (stopped || !engine) return;
  settled(engine.dispatch(events, eventBins));
}

/** After a batch, a timer or an async completion: report a fault, else flush the operations. */
function settled(fatal: SandboxError | undefined): void {
  if (stopped || !engine) return;
  if (fatal && engine.fatal) {
    stopped = true;
    flush();
    send({
      t: "fatal",
      kind: fatal.name === "BudgetExceededError" ? "budget" : "memory",
      message: fatal.message,
      file: fatal.file,
      line: fatal.line,
      column: fatal.column,
      stack: fatal.scriptStack,
    });
    return;
  }
  if (fatal) extra = JSON.stringify(["log", "error", fatal.describe()]);
  flush();
}

async function init(m: Extract<ToWorker, { t: "init" }>): Promise<void> {
  // A heap bounded by the script's memory limit (see boundedMemory): a script growing large
  // blocks fails at about 4 x its limit instead of taking the worker towards 2 GiB.
  const module = await loadQuickJS(m.limits.memoryBytes ?? DEFAULT_LIMITS.memoryBytes);
  engine = new ScriptEngine(
    module,
    m.file,
    m.limits,
    m.storage,
    (id) => run(`[["t",${id}]]`, []),
    m.fetch,
    (fatal) => settled(fatal),
  );
  const error = engine.load(m.source);
  if (error) {
    stopped = true;
    flush();
    send({
      t: "fatal",
      kind: engine.fatal ? (error.name === "BudgetExceededError" ? "budget" : "memory") : "script",
      message: error.message,
      file: error.file,
      line: error.line,
      column: error.column,
      stack: error.scriptStack,
    });
    return;
  }
  // Operations of the top level (events.on, timers, storage) reach the host before "ready".
  flush();
  send({ t: "ready" });
  for (const e of early.splice(0)) handle(e);
}

function handle(m: ToWorker): void {
  if (m.t === "init") {
    void init(m);
    return;
  }
  if (!engine) {
    early.push(m);
    return;
  }
  ack = m.seq;
  // Storage updates from elsewhere apply before the script sees the batch.
  for (const [k, v] of m.st) engine.storageChanged(k, v);
  if (m.ev !== "[]") run(m.ev, m.bins);
  else flush();
}

port.onMessage((m) => handle(m as ToWorker));
