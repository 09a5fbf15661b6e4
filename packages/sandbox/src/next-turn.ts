/**
 * Runs a function on the next turn of the event loop, after the I/O callbacks
 * of this one: `setImmediate` where the runtime has it (Node, Bun), else a
 * zero timeout (Deno). Messages to and from worker threads are gathered
 * until then, so one message carries everything one turn produced.
 * @module
 */
export const nextTurn: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => (globalThis as unknown as { setImmediate(f: () => void): void }).setImmediate(fn)
    : (fn) => setTimeout(fn, 0);
