/**
 * Compiled-once page code: QuickJS bytecode, written once per file version
 * and read into each request's fresh context.
 *
 * quickjs-emscripten 0.32 compiles without running (`compileOnly`) but has no
 * call that runs the result (QuickJS's `JS_EvalFunction`), and its binary
 * JSON writer/reader leave bytecode out. Parsing was the largest part of a
 * page request (~90 µs of ~230 µs in-process on Node for the 20-item page),
 * so this module loads the same WebAssembly binary with three changes made
 * to its bytes before compiling it:
 *
 * - `QTS_bjson_encode` writes bytecode (`JS_WRITE_OBJ_BYTECODE`, predefined
 *   atoms by index as QuickJS does for bytecode);
 * - `QTS_bjson_decode` reads it (`JS_READ_OBJ_BYTECODE`, same atom rule);
 * - QuickJS's own `JS_EvalFunction` is exported as `whEvalFunction`.
 *
 * Nothing else changes. Bytecode read into a context belongs to that context
 * (QuickJS sets the function's realm to the reading context), so a page
 * compiled once still runs against each request's own globals and built-ins.
 * Each change is made only where the expected bytes are found exactly once,
 * and the result is checked by compiling, writing, reading and running a
 * script in two contexts; when anything differs (another quickjs-emscripten
 * build) {@link loadBytecodeModule} returns no {@link BytecodeSupport} and the
 * page engine parses source per request as before.
 * @module
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSWASMModule,
  RELEASE_SYNC,
} from "quickjs-emscripten";
import { boundedMemory, loadQuickJS } from "./quickjs.ts";

/** What `ctx.evalCode` returns: a value or an exception. */
export type RunResult = { value: QuickJSHandle; error?: undefined } | { error: QuickJSHandle; value?: undefined };

/** Compiles and runs bytecode in contexts of the module it was loaded with. */
export interface BytecodeSupport {
  /** Compiles global code in `ctx` without running it: the bytecode bytes, or the SyntaxError. */
  compile(ctx: QuickJSContext, source: string, file: string): Uint8Array | { error: QuickJSHandle };
  /** Reads `bytes` into `ctx` and runs them as global code (like `evalCode`). */
  run(ctx: QuickJSContext, bytes: Uint8Array): RunResult;
}

// QuickJS's NaN-boxed JSValue on wasm32: the tag is the high 32 bits.
const TAG_EXCEPTION = 6n;
const UNDEFINED = 3n << 32n;

/** One expected byte sequence in a function body and its replacement. */
type Edit = [from: number[], to: number[]];

/** The WebAssembly binary of quickjs-emscripten 0.32's release sync build, and the changes. */
const SITES = {
  /** Export names (minified by emscripten) of the two binary-JSON functions. */
  encode: "Ja",
  decode: "Ka",
  /** `JS_EvalFunction(ctx, fun)`: `JS_EvalFunctionInternal(ctx, fun, ctx->global_obj, NULL, NULL)`. */
  evalFunction: { index: 777, body: "002000200120002903d0014100410010b0050b" },
  /**
   * BCWriterState at sp+0: bytes 28.. are allow_bytecode, allow_sab, allow_reference, pad, first_atom.
   * Was {0, 0, 1, 0, 1}, becomes {1, 0, 1, 0, JS_ATOM_END = 238}.
   */
  encodeEdits: [
    [
      [0x42, 0x80, 0x80, 0x84, 0x80, 0x10, 0x37, 0x02, 0x1c],
      [0x42, 0x81, 0x80, 0x84, 0x80, 0xe0, 0x1d, 0x37, 0x02, 0x1c],
    ],
  ] as Edit[],
  /** BCReaderState at sp+12: first_atom (sp+28) 1 → 238; allow_bytecode (sp+45, in the i64 zeroed at sp+40) 0 → 1. */
  decodeEdits: [
    [
      [0x41, 0x01, 0x36, 0x02, 0x1c],
      [0x41, 0xee, 0x01, 0x36, 0x02, 0x1c],
    ],
    [
      [0x42, 0x00, 0x37, 0x02, 0x28],
      [0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x37, 0x02, 0x28],
    ],
  ] as Edit[],
};

let patched: Promise<WebAssembly.Module | undefined> | undefined;

/** The changed binary, compiled once per thread; undefined when the bytes are not the expected ones. */
function patchedModule(): Promise<WebAssembly.Module | undefined> {
  patched ??= (async () => {
    try {
      const path = createRequire(import.meta.url).resolve("@jitl/quickjs-wasmfile-release-sync/wasm");
      const bytes = patchBinary(new Uint8Array(readFileSync(path)));
      return bytes ? await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>) : undefined;
    } catch {
      return undefined;
    }
  })();
  return patched;
}

/**
 * A QuickJS module with bytecode support when the binary could be changed
 * (see the module comment), else the plain module and `bytecode: undefined`.
 */
export async function loadBytecodeModule(
  memoryBytes?: number,
): Promise<{ module: QuickJSWASMModule; bytecode?: BytecodeSupport }> {
  const wasm = await patchedModule();
  if (!wasm) return { module: await loadQuickJS(memoryBytes) };
  let instance: WebAssembly.Instance | undefined;
  let memory: WebAssembly.Memory | undefined;
  const variant = newVariant(RELEASE_SYNC, {
    emscriptenModule: {
      // A bounded heap (see boundedMemory in quickjs.ts); the build's own otherwise.
      ...(memoryBytes !== undefined ? { wasmMemory: boundedMemory(memoryBytes) } : {}),
      instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
        instance = new WebAssembly.Instance(wasm, imports);
        for (const space of Object.values(imports))
          for (const v of Object.values(space)) if (v instanceof WebAssembly.Memory) memory = v;
        for (const v of Object.values(instance.exports)) if (v instanceof WebAssembly.Memory) memory ??= v;
        done(instance, wasm);
        return instance.exports;
      },
    } as never,
  });
  const module = await newQuickJSWASMModuleFromVariant(variant);
  const evalFunction = instance?.exports.whEvalFunction as ((ctx: number, fun: bigint) => bigint) | undefined;
  if (!memory || typeof evalFunction !== "function") return { module };
  const support = makeSupport(module, memory, evalFunction);
  return selfTest(module, support) ? { module, bytecode: support } : { module };
}

/** Internals of quickjs-emscripten 0.32's QuickJSContext this module reaches for (pinned version). */
interface ContextInternals {
  ctx: { value: number };
  memory: { heapValueHandle(ptr: number): QuickJSHandle };
}

function makeSupport(
  module: QuickJSWASMModule,
  memory: WebAssembly.Memory,
  evalFunction: (ctx: number, fun: bigint) => bigint,
): BytecodeSupport {
  const ffi = module.getFFI();
  let view = new DataView(memory.buffer);
  const heap = () => {
    if (view.buffer !== memory.buffer) view = new DataView(memory.buffer);
    return view;
  };
  /** Runs the bytecode value held by `fn` (which is left holding undefined: JS_EvalFunction takes it). */
  const evalHandle = (ctx: QuickJSContext, fn: QuickJSHandle): RunResult => {
    const internals = ctx as unknown as ContextInternals;
    const cell = fn.value as unknown as number;
    const fun = heap().getBigInt64(cell, true);
    heap().setBigInt64(cell, UNDEFINED, true);
    fn.dispose();
    const result = evalFunction(internals.ctx.value, fun);
    // A fresh handle to own the result: its cell held a number, which needs no freeing.
    const out = ctx.newNumber(0);
    const outCell = out.value as unknown as number;
    heap().setBigInt64(outCell, result, true);
    if (result >> 32n === TAG_EXCEPTION) {
      const errorPtr = ffi.QTS_ResolveException(internals.ctx.value as never, outCell as never) as unknown as number;
      out.dispose();
      return { error: internals.memory.heapValueHandle(errorPtr) };
    }
    return { value: out };
  };
  return {
    compile(ctx, source, file) {
      const r = ctx.evalCode(source, file, { compileOnly: true });
      if (r.error) return { error: r.error };
      try {
        const encoded = ctx.encodeBinaryJSON(r.value);
        try {
          const view = ctx.getArrayBuffer(encoded);
          try {
            return view.value.slice();
          } finally {
            view.dispose();
          }
        } finally {
          encoded.dispose();
        }
      } finally {
        r.value.dispose();
      }
    },
    run(ctx, bytes) {
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      const buffer = ctx.newArrayBuffer(
        whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      );
      let fn: QuickJSHandle;
      try {
        fn = ctx.decodeBinaryJSON(buffer);
      } catch (e) {
        // decodeBinaryJSON throws the QuickJS error (e.g. out of memory) as a host error.
        return { error: ctx.newError({ name: "InternalError", message: String((e as Error)?.message ?? e) }) };
      } finally {
        buffer.dispose();
      }
      return evalHandle(ctx, fn);
    },
  };
}

/** Compile in one context, run in two others: globals and built-ins must be each one's own. */
function selfTest(module: QuickJSWASMModule, support: BytecodeSupport): boolean {
  const rt = module.newRuntime();
  try {
    const a = rt.newContext();
    let bytes: Uint8Array | { error: QuickJSHandle };
    try {
      bytes = support.compile(
        a,
        "var n = (typeof n == 'number' ? n : 0) + 1; [n, [] instanceof Array, seed].join()",
        "t",
      );
    } finally {
      a.dispose();
    }
    if (!(bytes instanceof Uint8Array)) {
      bytes.error.dispose();
      return false;
    }
    for (const seed of ["b", "c"]) {
      const ctx = rt.newContext();
      try {
        const s = ctx.newString(seed);
        ctx.setProp(ctx.global, "seed", s);
        s.dispose();
        const r = support.run(ctx, bytes);
        if (r.error) {
          r.error.dispose();
          return false;
        }
        const out = ctx.getString(r.value);
        r.value.dispose();
        if (out !== `1,true,${seed}`) return false;
      } finally {
        ctx.dispose();
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    rt.dispose();
  }
}

function uleb(b: Uint8Array, p: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let x: number;
  do {
    x = b[p++]!;
    value += (x & 0x7f) * 2 ** shift;
    shift += 7;
  } while (x & 0x80);
  return [value, p];
}

function encodeUleb(n: number): number[] {
  const out: number[] = [];
  do {
    let x = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) x |= 0x80;
    out.push(x);
  } while (n);
  return out;
}

function indexOf(hay: Uint8Array, needle: number[], from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function edit(body: Uint8Array, edits: Edit[]): Uint8Array | undefined {
  for (const [from, to] of edits) {
    const at = indexOf(body, from);
    if (at < 0 || indexOf(body, from, at + 1) >= 0) return undefined;
    const next = new Uint8Array(body.length - from.length + to.length);
    next.set(body.subarray(0, at));
    next.set(to, at);
    next.set(body.subarray(at + from.length), at + to.length);
    body = next;
  }
  return body;
}

/** The binary with the changes made, or undefined when it is not the expected one. */
export function patchBinary(wasm: Uint8Array): Uint8Array | undefined {
  const sections: { id: number; start: number; end: number }[] = [];
  for (let p = 8; p < wasm.length; ) {
    const id = wasm[p]!;
    const [size, start] = uleb(wasm, p + 1);
    sections.push({ id, start, end: start + size });
    p = start + size;
  }
  const imports = sections.find((s) => s.id === 2);
  const exports = sections.find((s) => s.id === 7);
  const code = sections.find((s) => s.id === 10);
  if (!imports || !exports || !code) return undefined;
  // Imported functions come first in the function index space.
  let [count, p] = uleb(wasm, imports.start);
  let importedFunctions = 0;
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 2; k++) {
      const [len, q] = uleb(wasm, p);
      p = q + len;
    }
    const kind = wasm[p++];
    if (kind === 0) {
      importedFunctions++;
      p = uleb(wasm, p)[1];
    } else if (kind === 1 || kind === 2) {
      if (kind === 1) p++; // table element type
      const flags = wasm[p++]!;
      p = uleb(wasm, p)[1];
      if (flags & 1) p = uleb(wasm, p)[1];
    } else if (kind === 3) p += 2;
    else return undefined;
  }
  const exported = new Map<string, number>();
  let exportCount: number;
  [exportCount, p] = uleb(wasm, exports.start);
  const exportEntries = p;
  for (let i = 0; i < exportCount; i++) {
    const [len, q] = uleb(wasm, p);
    const name = new TextDecoder().decode(wasm.subarray(q, q + len));
    const kind = wasm[q + len];
    const [index, next] = uleb(wasm, q + len + 1);
    if (kind === 0) exported.set(name, index);
    p = next;
  }
  const bodies: [number, number][] = [];
  let bodyCount: number;
  [bodyCount, p] = uleb(wasm, code.start);
  for (let i = 0; i < bodyCount; i++) {
    const [size, start] = uleb(wasm, p);
    bodies.push([start, start + size]);
    p = start + size;
  }
  const body = (index: number) => {
    const range = bodies[index - importedFunctions];
    return range ? wasm.subarray(range[0], range[1]) : undefined;
  };
  const encode = exported.get(SITES.encode);
  const decode = exported.get(SITES.decode);
  const evalBody = body(SITES.evalFunction.index);
  if (encode === undefined || decode === undefined || !evalBody) return undefined;
  if (hex(evalBody) !== SITES.evalFunction.body) return undefined;
  const encodeBody = body(encode);
  const decodeBody = body(decode);
  const newEncode = encodeBody && edit(encodeBody, SITES.encodeEdits);
  const newDecode = decodeBody && edit(decodeBody, SITES.decodeEdits);
  if (!newEncode || !newDecode) return undefined;
  const replaced = new Map([
    [encode, newEncode],
    [decode, newDecode],
  ]);

  const out: number[] = Array.from(wasm.subarray(0, 8));
  const push = (bytes: ArrayLike<number>) => {
    for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
  };
  for (const s of sections) {
    let payload: number[];
    if (s.id === 10) {
      payload = encodeUleb(bodyCount);
      for (let i = 0; i < bodyCount; i++) {
        const b = replaced.get(i + importedFunctions) ?? wasm.subarray(bodies[i]![0], bodies[i]![1]);
        for (const x of encodeUleb(b.length)) payload.push(x);
        for (let k = 0; k < b.length; k++) payload.push(b[k]!);
      }
    } else if (s.id === 7) {
      payload = encodeUleb(exportCount + 1);
      for (let k = exportEntries; k < s.end; k++) payload.push(wasm[k]!);
      const name = new TextEncoder().encode("whEvalFunction");
      payload.push(...encodeUleb(name.length), ...name, 0, ...encodeUleb(SITES.evalFunction.index));
    } else {
      out.push(s.id);
      push(encodeUleb(s.end - s.start));
      push(wasm.subarray(s.start, s.end));
      continue;
    }
    out.push(s.id);
    push(encodeUleb(payload.length));
    push(payload);
  }
  return new Uint8Array(out);
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
