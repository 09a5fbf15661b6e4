/**
 * The one place that knows QuickJS: loading the WebAssembly module, runtime
 * limits (memory, stack, CPU deadline) and turning a QuickJS exception into a
 * typed {@link SandboxError}.
 * @module
 */
import {
  type Intrinsics,
  newQuickJSWASMModule,
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
  RELEASE_SYNC,
} from "quickjs-emscripten";
import { cpuMicros, recentCpuMicros } from "./cpu-time.ts";
import { BudgetExceededError, firstFrame, OutOfMemoryError, type SandboxError, ScriptError } from "./errors.ts";

export type { QuickJSContext, QuickJSHandle, QuickJSRuntime };

/** Resource limits of one script run (page) or one script (websocket). */
export interface Limits {
  /** CPU-time budget in milliseconds of one synchronous run (a page render, one event handler). Default 100. */
  cpuMs?: number;
  /** Memory limit of the QuickJS heap in bytes. Default 32 MiB. */
  memoryBytes?: number;
  /** Maximum stack of the script in bytes. Default 256 KiB (about 1,500 nested calls); above ~400 KiB
   * the host engine's own stack can overflow first on Node. */
  stackBytes?: number;
}

export const DEFAULT_LIMITS: Required<Limits> = { cpuMs: 100, memoryBytes: 32 * 1024 * 1024, stackBytes: 256 * 1024 };

/** `limits` with the defaults filled in (an `undefined` field takes its default). */
export function withDefaults(limits: Limits | undefined): Required<Limits> {
  return { ...DEFAULT_LIMITS, ...stripUndefined(limits ?? {}) };
}

/**
 * How long a worker running scripts may go without showing progress before
 * it is taken for stuck in a call the CPU budget cannot interrupt: 10 × the
 * budget, at least 2 s (a busy machine must not make a healthy worker look stuck).
 */
export function defaultWatchdogMs(limits: Required<Limits>): number {
  return Math.max(2000, limits.cpuMs * 10);
}

/**
 * Built-ins a page context gets. TypedArrays and Proxy are left out by
 * default because each costs 30–70 µs per fresh context (measured on Node 20),
 * a third of a page render; pass `intrinsics` to add them.
 */
export const PAGE_INTRINSICS: Intrinsics = {
  BaseObjects: true,
  Date: true,
  Eval: true,
  StringNormalize: true,
  RegExp: true,
  JSON: true,
  MapSet: true,
  Promise: true,
};

/** Websocket scripts handle binary messages, so they get ArrayBuffer and typed arrays. */
export const SCRIPT_INTRINSICS: Intrinsics = { ...PAGE_INTRINSICS, TypedArrays: true, Proxy: true };

/**
 * A new instance of the QuickJS WebAssembly module (sync release build).
 * Each engine owns one, so that a fault inside the WebAssembly code (QuickJS
 * can trap when memory runs out in the middle of some operations) is
 * recovered by dropping that instance and loading a fresh one.
 */
export function loadQuickJS(memoryBytes?: number): Promise<QuickJSWASMModule> {
  if (memoryBytes === undefined) return newQuickJSWASMModule(RELEASE_SYNC);
  return newQuickJSWASMModuleFromVariant(
    newVariant(RELEASE_SYNC, { emscriptenModule: { wasmMemory: boundedMemory(memoryBytes) } as never }),
  );
}

/** The WebAssembly build's own start-up memory (its INITIAL_MEMORY): data, stack and a first heap. */
const INITIAL_MEMORY = 16 * 1024 * 1024;
/** Scripts' memory limit times this is the most heap one instance may grow to (see boundedMemory). */
const HEAP_FACTOR = 4;

/**
 * The memory for a module instance whose scripts have a `memoryBytes` limit: it starts as the
 * build's default (16 MiB) and may grow to 16 MiB + 4 × memoryBytes (32 MiB scripts: 144 MiB),
 * not to the build's 2 GiB.
 *
 * Why: in the WebAssembly build QuickJS cannot read the size of a block it allocated (its
 * malloc_usable_size is 0 under Emscripten), so the runtime's memory limit counts 8 bytes per
 * block, and only refuses single allocations over the limit. A script that builds large arrays
 * or strings in few blocks was stopped only by the 2 GiB heap (after seconds of work), and a
 * script near the limit left the runtime unable to collect its garbage. With the heap bounded,
 * such a script fails (out of memory) once the instance has no room left; the engine then
 * replaces the instance, so nothing it left behind outlives it. The factor leaves room for
 * garbage that QuickJS has not collected yet (its collector runs by block count, not bytes).
 */
export function boundedMemory(memoryBytes: number): WebAssembly.Memory {
  const page = 65536;
  const initial = INITIAL_MEMORY / page;
  const maximum = Math.min(32768, initial + Math.ceil((HEAP_FACTOR * memoryBytes) / page));
  return new WebAssembly.Memory({ initial, maximum });
}

/** True for a trap of the WebAssembly code itself (the module instance is unusable after it). */
export function isEngineFault(e: unknown): boolean {
  return (
    (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError) ||
    (e instanceof Error && /^(RuntimeError|QuickJSUseAfterFree|QuickJSWrongOwner)$/.test(e.name)) ||
    (e instanceof RangeError && /call stack/i.test(e.message))
  );
}

/** How old the CPU-time reading a page run starts from may be (see recentCpuMicros). */
const CPU_SAMPLE_MS = 10;

/**
 * A QuickJS runtime with limits and a CPU deadline. The interrupt handler
 * runs every few thousand bytecodes; once the deadline has passed it keeps
 * answering "interrupt" so that `finally` blocks cannot resume the script.
 */
export class GuardedRuntime {
  readonly runtime: QuickJSRuntime;
  readonly limits: Required<Limits>;
  private deadline = Number.POSITIVE_INFINITY;
  private budgetMicros = 0;
  private cpuStart = 0;
  /** Set when the interrupt handler stopped the script since the last {@link start}. */
  interrupted = false;

  constructor(module: QuickJSWASMModule, limits: Limits = {}) {
    this.limits = withDefaults(limits);
    this.runtime = module.newRuntime();
    this.runtime.setMemoryLimit(this.limits.memoryBytes);
    this.runtime.setMaxStackSize(this.limits.stackBytes);
    this.runtime.setInterruptHandler(() => {
      if (performance.now() <= this.deadline) return false;
      // Past the wall-clock deadline: charge only CPU time actually used, so a
      // busy machine that descheduled us does not fail a cheap request.
      if (cpuMicros && cpuMicros() - this.cpuStart < this.budgetMicros) return false;
      this.interrupted = true;
      return true;
    });
  }

  /** Arms the CPU deadline for one synchronous run. */
  start(ms = this.limits.cpuMs): void {
    this.interrupted = false;
    const now = performance.now();
    this.deadline = now + ms;
    this.budgetMicros = ms * 1000;
    this.cpuStart = cpuMicros ? recentCpuMicros(now, CPU_SAMPLE_MS) : 0;
  }

  /**
   * Re-arms the wall-clock deadline only (per event inside one batch), keeping
   * the CPU baseline of the last {@link start}: cheaper than reading CPU time per event.
   */
  restart(ms = this.limits.cpuMs): void {
    this.deadline = performance.now() + ms;
  }

  /** Disarms the deadline (host code between runs is not charged). */
  stop(): void {
    this.deadline = Number.POSITIVE_INFINITY;
  }

  /**
   * Turns an exception handle into a typed error, then disposes the handle.
   * `mapFrame` rewrites a generated (file, line, column) to the source's.
   */
  toError(ctx: QuickJSContext, handle: QuickJSHandle, mapStack: (stack: string) => string = (s) => s): SandboxError {
    let dumped: { name?: unknown; message?: unknown; stack?: unknown; fileName?: unknown; lineNumber?: unknown };
    try {
      const d = ctx.dump(handle);
      dumped = d && typeof d === "object" ? d : { name: "Error", message: String(d) };
    } catch {
      dumped = { name: "InternalError", message: "out of memory" };
    } finally {
      handle.dispose();
    }
    const name = typeof dumped.name === "string" ? dumped.name : "Error";
    const message = typeof dumped.message === "string" ? dumped.message : String(dumped.message ?? "");
    let stack = typeof dumped.stack === "string" ? dumped.stack : "";
    // A SyntaxError has no frame for its own location, only fileName/lineNumber.
    if (!firstFrame(stack) && typeof dumped.fileName === "string" && typeof dumped.lineNumber === "number") {
      stack = `    at ${dumped.fileName}:${dumped.lineNumber}\n${stack}`;
    }
    stack = mapStack(stack);
    const at = firstFrame(stack);
    if (this.interrupted) return new BudgetExceededError(this.limits.cpuMs, at?.file, at?.line, at?.column, stack);
    if (name === "InternalError" && /out of memory/.test(message)) {
      return new OutOfMemoryError(this.limits.memoryBytes, at?.file, at?.line, at?.column, stack);
    }
    return new ScriptError(name, message, at?.file, at?.line, at?.column, stack);
  }

  dispose(): void {
    try {
      this.runtime.dispose();
    } catch {
      // A runtime whose script was killed mid-allocation may still hold objects;
      // QuickJS asserts on that. The WebAssembly memory is reclaimed with the module.
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
