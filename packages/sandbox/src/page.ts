/**
 * Page scripts: a template is compiled once per file version and run per
 * request in a fresh QuickJS context (one runtime is reused; contexts share
 * nothing). The page API is a small prelude evaluated in the same eval as
 * the page, so one render costs one context, one eval and one string read.
 * @module
 */
import type { Intrinsics, QuickJSWASMModule } from "quickjs-emscripten";
import { type BytecodeSupport, loadBytecodeModule, type RunResult } from "./bytecode.ts";
import { OutOfMemoryError, SandboxError, ScriptError } from "./errors.ts";
import type { EventHub } from "./events.ts";
import { checkFetchAllowed, type FetchPolicy, runFetch } from "./fetch.ts";
import type { SiteFiles } from "./files.ts";
import { normalizeSitePath, PathError, resolveSitePath } from "./paths.ts";
import {
  DEFAULT_LIMITS,
  GuardedRuntime,
  isEngineFault,
  type Limits,
  loadQuickJS,
  PAGE_INTRINSICS,
  type QuickJSContext,
  type QuickJSHandle,
} from "./quickjs.ts";
import type { KeyValueStore } from "./storage.ts";
import { type CompiledTemplate, compileScript, compileTemplate, SITE_STRIDE } from "./template.ts";

/** The request as the page sees it (`request` in the script). Everything must be JSON-serializable. */
export interface PageRequest {
  method: string;
  /** The request target as received ("/shop/cart?id=3"). */
  url: string;
  /** Decoded path; derived from `url` when absent. */
  path?: string;
  /** Query parameters; derived from `url` when absent (repeated names become arrays). */
  query?: Record<string, string | string[]>;
  /** Header names in lower case. */
  headers?: Record<string, string>;
  /** Cookies; derived from the Cookie header when absent. */
  cookies?: Record<string, string>;
  remoteAddress?: string;
  /** The parsed body: form fields, a JSON value or multipart fields, as the host parsed it. */
  body?: unknown;
}

/** What a render produced. Header names are lower case; `set-cookie` may repeat. */
export interface PageResult {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

export interface LogEntry {
  level: "log" | "info" | "warn" | "error";
  message: string;
  /** The script file that logged. */
  file: string;
}

export interface PageEngineOptions {
  /** The site's files (templates, includes, `readFile`). */
  files: SiteFiles;
  /** CPU budget per render (ms), memory limit, stack size. */
  limits?: Limits;
  /** `storage` for scripts; without it scripts get a store that is empty per request. */
  storage?: KeyValueStore;
  /** `events` for scripts; without it `events.emit` does nothing. */
  events?: EventHub;
  /** `fetch` for scripts, limited to the listed origins; without it scripts have no `fetch`. */
  fetch?: FetchPolicy;
  /** Where `log`/`console.*` of scripts go. */
  log?: (entry: LogEntry) => void;
  /** QuickJS built-ins in page contexts (default {@link PAGE_INTRINSICS}). */
  intrinsics?: Intrinsics;
  /** Check files for a new version at most every this many ms (default 0: every render). */
  revalidateMs?: number;
  /** Wall-clock limit of a page waiting for `fetch` results (default 10,000 ms). */
  asyncTimeoutMs?: number;
  /**
   * Compile each page (and include) version to QuickJS bytecode once and only
   * read it per request (default true; see bytecode.ts). False: parse the
   * source per request. Either way a render runs in a fresh context.
   */
  bytecode?: boolean;
}

/** The page file does not exist (the host answers 404). */
export class PageNotFoundError extends SandboxError {}

interface CacheEntry {
  version: string | number;
  checked: number;
  tpl: CompiledTemplate;
}

/**
 * A compiled template, the API globals its code names, the optional
 * built-ins it may use (`null`: all of them) and the files it includes by a
 * literal name (`null`: it also includes by a computed name).
 */
type Loaded = CompiledTemplate & {
  needs?: Set<string>;
  analyzed?: boolean;
  builtins?: Set<keyof Intrinsics> | null;
  includes?: string[] | null;
  /** The `request` properties the code reads (`null`: it may read any). */
  requestFields?: Set<string> | null;
  /** {@link Usage} of a render of this page, kept when it depends on this file only (it includes nothing). */
  usage?: Usage;
  /** Bytecode of the page run as a page (prelude, code, tail), once compiled. */
  pageBytecode?: Uint8Array;
  /** Bytecode of the code alone, as an include runs it. */
  includeBytecode?: Uint8Array;
};

/** What a render of a page (with the files it includes) may use. */
interface Usage {
  /** Intrinsics of its context. */
  intrinsics: Intrinsics;
  /** The `request` properties to define (`null`: all). */
  request: Set<string> | null;
}

interface RenderState {
  ctx: QuickJSContext;
  stack: string[];
  /** file → [template, generated-line offset] for mapping stack frames. */
  files: Map<string, [CompiledTemplate, number]>;
  /** Included templates by serial, every version this render ran (a file can change while a page waits for fetch). */
  included: Map<number, CompiledTemplate> | undefined;
  pending: Set<Promise<void>>;
  memory: Map<string, string> | undefined;
  /** API globals defined so far in this context. */
  defined: Set<string>;
  request: PageRequest;
  /** The `request` properties the page may read (`null`: all). */
  requestFields: Set<string> | null;
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

// Host operations the prelude calls through `__h(op, a, b)`.
const OP_INCLUDE = 1;
const OP_READ = 2;
const OP_LOG = 3;
const OP_ST_GET = 4;
const OP_ST_SET = 5;
const OP_ST_DEL = 6;
const OP_ST_KEYS = 7;
const OP_EMIT = 8;
const OP_FETCH = 9;

/**
 * The page API. Parsing dominates a render in QuickJS-in-WebAssembly (each
 * function in the prelude costs ~50 µs to compile on the machines we measured),
 * so a page gets only the API globals its code names: the compiled template
 * records them ({@link apiNeeds}) and the prelude defines just those. Output is
 * the array `__o` of values, each run of them followed by its site number
 * (see template.ts; `print` pushes a raw value and -1); the run ends with
 * one string ({@link TAIL}) that the host splits, fills with the static texts,
 * escapes and joins.
 */
const API: Record<string, string> = {
  print: `var print=function(){for(var i=0;i<arguments.length;i++)__o.push(String(arguments[i]),"-1")};`,
  println: `var println=function(){for(var i=0;i<arguments.length;i++)__o.push(String(arguments[i]),"-1");__o.push("\\n","-1")};`,
  escapeHtml:
    `var escapeHtml=function(v){v=v==null?"":String(v);` +
    `return v.split("&").join("&amp;").split("<").join("&lt;").split(">").join("&gt;").split('"').join("&quot;").split("'").join("&#39;")};`,
  response:
    `__R=1;var response={status:200,type:undefined,_h:[],_c:[],_b:undefined,` +
    `header:function(n,v){this._h.push([String(n),String(v)]);return this},` +
    `cookie:function(n,v,o){this._c.push([String(n),String(v),o||null]);return this},` +
    `redirect:function(u,s){this.status=s||302;this._h.push(["location",String(u)]);return this},` +
    `json:function(v){this.type="application/json; charset=utf-8";this._b=JSON.stringify(v);return this}};`,
  include: `var include=function(f){__h(${OP_INCLUDE},String(f))};`,
  readFile: `var readFile=function(p){return __h(${OP_READ},String(p))};`,
  console:
    `var console=(function(){var s=function(v){return typeof v=="string"?v:v instanceof Error?String(v.stack?v+"\\n"+v.stack:v):(function(){try{return JSON.stringify(v)}catch(e){return String(v)}})()};` +
    `var l=function(l){return function(){__h(${OP_LOG},l,[].map.call(arguments,s).join(" "))}};` +
    `return {log:l("log"),info:l("info"),warn:l("warn"),error:l("error"),debug:l("log")}})();`,
  log: "var log=console.log;",
  storage:
    `var storage={get:function(k){var v=__h(${OP_ST_GET},String(k));return v===undefined?undefined:JSON.parse(v)},` +
    `set:function(k,v){v=JSON.stringify(v);if(v===undefined)__h(${OP_ST_DEL},String(k));else __h(${OP_ST_SET},String(k),v)},` +
    `delete:function(k){return __h(${OP_ST_DEL},String(k))},keys:function(){return JSON.parse(__h(${OP_ST_KEYS}))}};`,
  events:
    `var events={emit:function(n,d){__h(${OP_EMIT},String(n),JSON.stringify(d===undefined?null:d))},` +
    `on:function(){throw new TypeError("events.on is for websocket scripts; a page only emits")}};`,
  fetch:
    `var fetch=function(u,i){var p;try{p=__h(${OP_FETCH},String(u),JSON.stringify(i||{}))}catch(e){return Promise.reject(e)}return p.then(function(j){var r=JSON.parse(j);` +
    `return {status:r.status,ok:r.status>=200&&r.status<300,url:r.url,headers:r.headers,` +
    `text:function(){return Promise.resolve(r.body)},json:function(){return Promise.resolve(JSON.parse(r.body))}}})};`,
};
/** Order matters where one API uses another (log uses console). */
const API_NAMES = Object.keys(API);
/** Code that reaches globals by computed name gets every API. */
const DYNAMIC = /\b(?:eval|globalThis|Function|constructor|Reflect)\b/;

/** The API globals (and `request`) a piece of page code names. */
export function apiNeeds(code: string): Set<string> {
  const all = DYNAMIC.test(code);
  const needs = new Set<string>();
  for (const name of [...API_NAMES, "request"]) {
    if (all || new RegExp(`\\b${name}\\b`).test(code)) needs.add(name);
  }
  if (needs.has("log")) needs.add("console");
  return needs;
}

/**
 * Built-ins that cost a fresh context 10–40 µs each and that a page gets only
 * when some code it runs names them (the rest of {@link PAGE_INTRINSICS}, or
 * of the host's `intrinsics`, is always there). Matching is by word in the
 * code, strings and comments included, so it errs towards adding them; a `/`
 * anywhere (a regular-expression literal may be there) adds RegExp.
 */
const LAZY_BUILTINS: [keyof Intrinsics, RegExp][] = [
  ["Date", /\bDate\b/],
  ["RegExp", /\/|\b(?:RegExp|match|matchAll|search)\b/],
  ["MapSet", /\b(?:Map|Set|WeakMap|WeakSet|WeakRef|FinalizationRegistry)\b/],
  ["Promise", /\b(?:Promise|async|await|then|import|fetch|fromAsync)\b/],
  ["StringNormalize", /\b(?:normalize|localeCompare)\b/],
];
/** Code that can list or reach globals by computed name gets every built-in. */
const ALL_BUILTINS =
  /\b(?:eval|globalThis|Function|constructor|Reflect|getOwnPropertyNames|getOwnPropertyDescriptors)\b/;
/** `include` called with a string literal (as `<?import ?>` compiles), or any other mention of `include`. */
const INCLUDE = /\binclude\b(\s*\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'([^'\\\n]*)')\s*\))?/g;

/** The optional built-ins a piece of page code may use (`null`: all). */
export function builtinNeeds(code: string): Set<keyof Intrinsics> | null {
  if (ALL_BUILTINS.test(code)) return null;
  const rest = code.replace(INCLUDE, "");
  const needs = new Set<keyof Intrinsics>();
  for (const [name, re] of LAZY_BUILTINS) if (re.test(rest)) needs.add(name);
  return needs;
}

/** `request` followed by `.name`, or any other mention of `request`. */
const REQUEST_USE = /\brequest\b(?:\s*\.\s*([A-Za-z_$][\w$]*))?/g;

/** The `request` properties code reads (`null`: it may read any, say `request[name]` or `Object.keys(request)`). */
export function requestFields(code: string): Set<string> | null {
  if (ALL_BUILTINS.test(code)) return null;
  const fields = new Set<string>();
  for (const m of code.matchAll(REQUEST_USE)) {
    if (m[1] === undefined) return null;
    fields.add(m[1]);
  }
  return fields;
}

/** The files code includes by literal name, relative to it (`null`: it also includes by a computed name). */
export function staticIncludes(code: string): string[] | null {
  const out: string[] = [];
  for (const m of code.matchAll(INCLUDE)) {
    if (m[1] === undefined) return null;
    if (m[3] !== undefined) out.push(m[3]);
    else {
      try {
        out.push(JSON.parse(`"${m[2]}"`) as string);
      } catch {
        return null;
      }
    }
  }
  return out;
}

const HEAD = "var __o=[],__R=0,__j;";
/** API globals that call the host through `__h`. */
const HOST_APIS = ["include", "readFile", "console", "log", "storage", "events", "fetch"];
const usesHost = (defined: Set<string>) => HOST_APIS.some((name) => defined.has(name));
/**
 * The last expression of a run: everything the host needs as one string,
 * `__o.length \x01 joined.length \x01 __R \x01 joined`,
 * where `joined` is `__o` joined by \x1f (a Latin-1 separator keeps QuickJS strings 8-bit) and `__R` is 1 when the page
 * defined `response` (the host then reads it with {@link META}). Values become strings by
 * `join` (null and undefined: ""). A value containing \x1f makes the
 * count differ, and one containing \0 cuts the string short (it crosses as a
 * C string): in both cases the host asks for {@link VALUES_JSON} instead.
 */
const TAIL = '\n;__j=__o.join("\\x1f"),__o.length+"\\x01"+__j.length+"\\x01"+__R+"\\x01"+__j';
const META = "JSON.stringify([response.status,response.type,response._h,response._c,response._b])";
const VALUES_JSON = 'JSON.stringify(__o.map(function(v){return v==null?"":String(v)}))';

/** The memory limit the engine's module instance is sized for (see boundedMemory). */
function heapFor(options: PageEngineOptions): number {
  return options.limits?.memoryBytes ?? DEFAULT_LIMITS.memoryBytes;
}

export class PageEngine {
  private broken = false;
  private readonly options: PageEngineOptions;
  private guard: GuardedRuntime;
  private bytecode: BytecodeSupport | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly intrinsics: Intrinsics;
  /** Intrinsics without some optional built-ins, by the list of those left out. */
  private readonly trimmed = new Map<string, Intrinsics>();
  private disposed = false;

  /** Loads QuickJS (once per thread) and returns an engine. */
  static async create(options: PageEngineOptions): Promise<PageEngine> {
    const { module, bytecode } =
      options.bytecode === false
        ? { module: await loadQuickJS(heapFor(options)), bytecode: undefined }
        : await loadBytecodeModule(heapFor(options));
    const engine = new PageEngine(module, bytecode, options);
    engine.warmUp();
    return engine;
  }

  /**
   * Runs the prelude once outside any budget: the first calls into a fresh
   * WebAssembly instance compile its code lazily, which would otherwise be
   * charged to the first request's CPU budget.
   */
  private warmUp(): void {
    const ctx = this.guard.runtime.newContext({ intrinsics: this.intrinsics });
    try {
      const h = ctx.newFunction("__h", () => undefined);
      ctx.setProp(ctx.global, "__h", h);
      h.dispose();
      const source = `${HEAD}${Object.values(API).join("")}var request={};\nfor(var i=0;i<50;i++){__o.push((i),(null),"1")}print(1);${TAIL}`;
      const r = ctx.evalCode(source, "<warm-up>");
      if (r.error) r.error.dispose();
      else r.value.dispose();
      if (this.bytecode) {
        // The bytecode path's functions (write, read, run) are compiled lazily too.
        const bytes = this.bytecode.compile(ctx, "var __w=[1,2].join();", "<warm-up>");
        if (bytes instanceof Uint8Array) {
          const run = this.bytecode.run(ctx, bytes);
          (run.error ?? run.value).dispose();
        } else bytes.error.dispose();
      }
    } finally {
      ctx.dispose();
    }
  }

  private constructor(module: QuickJSWASMModule, bytecode: BytecodeSupport | undefined, options: PageEngineOptions) {
    this.options = options;
    this.bytecode = bytecode;
    this.guard = new GuardedRuntime(module, options.limits);
    this.intrinsics = options.intrinsics ?? PAGE_INTRINSICS;
  }

  /** True when pages run from bytecode compiled once per file version (see {@link PageEngineOptions.bytecode}). */
  get usesBytecode(): boolean {
    return this.bytecode !== undefined;
  }

  /** The limits in force (defaults filled in). */
  get limits(): Required<Limits> {
    return this.guard.limits;
  }

  /**
   * Compiles `path` (site-relative) if its version changed and returns the
   * compiled template. Throws {@link PageNotFoundError} or a {@link ScriptError}
   * for a template that does not compile.
   */
  compile(path: string): CompiledTemplate {
    // Cache keys are normalized paths: a hit needs no normalizing.
    if (!this.cache.has(path)) path = normalizeSitePath(path);
    const tpl = this.load(path);
    if (!tpl) throw new PageNotFoundError(`no such page: ${path}`, path);
    return tpl;
  }

  /** Forgets compiled templates (all, or one file). */
  invalidate(path?: string): void {
    if (path === undefined) this.cache.clear();
    else this.cache.delete(normalizeSitePath(path));
  }

  /**
   * Runs the page `path` for `request` in a fresh context. Resolves with the
   * response, or rejects with {@link ScriptError} (500),
   * {@link BudgetExceededError} / {@link OutOfMemoryError} (503) or
   * {@link PageNotFoundError} (404).
   */
  async render(path: string, request: PageRequest): Promise<PageResult> {
    if (this.disposed) throw new Error("PageEngine is disposed");
    if (this.broken) await this.recover();
    const tpl = this.compile(path);
    const file = tpl.file;
    const usage = this.usage(tpl);
    const ctx = this.guard.runtime.newContext({ intrinsics: usage.intrinsics });
    let trapped = false;
    const state: RenderState = {
      ctx,
      stack: [file],
      files: new Map([[file, [tpl, 1]]]),
      included: undefined,
      pending: new Set(),
      memory: undefined,
      defined: new Set(),
      request,
      requestFields: usage.request,
    };
    try {
      const definitions = this.definitions(state, tpl);
      // Pages that call no host API (only output) skip the host function.
      if (usesHost(state.defined)) {
        const h = ctx.newFunction("__h", (op, a, b) => this.hostOp(state, op, a, b));
        ctx.setProp(ctx.global, "__h", h);
        h.dispose();
      }
      const mapStack = (s: string) => mapFrames(s, state.files);
      this.guard.start();
      let result: RunResult = this.run(ctx, tpl, "pageBytecode", () => `${HEAD}${definitions}\n${tpl.code}${TAIL}`);
      this.guard.stop();
      if (result.error) throw this.guard.toError(ctx, result.error, mapStack);
      let out = ctx.getString(result.value);
      result.value.dispose();
      if (state.pending.size > 0 || this.guard.runtime.hasPendingJob()) {
        // The page started promises (fetch): run them to completion, then read the output again.
        await this.settle(state, mapStack);
        this.guard.start();
        result = ctx.evalCode(TAIL, "<wirehouse>");
        this.guard.stop();
        if (result.error) throw this.guard.toError(ctx, result.error, mapStack);
        out = ctx.getString(result.value);
        result.value.dispose();
      }
      return this.finish(state, out, mapStack);
    } catch (e) {
      // Out of memory: what the script left may fill the instance's bounded heap (QuickJS cannot
      // always collect it, see boundedMemory), so the next render gets a fresh instance.
      if (e instanceof OutOfMemoryError) this.broken = true;
      if (!isEngineFault(e)) throw e;
      // The WebAssembly instance trapped (seen when memory runs out inside a
      // string operation): drop it; the next render loads a fresh one.
      this.broken = true;
      trapped = true;
      throw new OutOfMemoryError(this.guard.limits.memoryBytes, file, undefined, undefined, String(e));
    } finally {
      this.guard.stop();
      // A trapped instance cannot run anything more, not even the context's disposal.
      if (!trapped) ctx.dispose();
    }
  }

  /**
   * Runs `tpl` as a page or as an include: from its bytecode (compiled on its
   * first run here), or from source when bytecode is off or unavailable.
   */
  private run(
    ctx: QuickJSContext,
    tpl: Loaded,
    kind: "pageBytecode" | "includeBytecode",
    source: () => string,
  ): RunResult {
    if (!this.bytecode) return ctx.evalCode(source(), tpl.file) as RunResult;
    let bytes = tpl[kind];
    if (!bytes) {
      const compiled = this.bytecode.compile(ctx, source(), tpl.file);
      if (!(compiled instanceof Uint8Array)) return compiled;
      tpl[kind] = bytes = compiled;
    }
    return this.bytecode.run(ctx, bytes);
  }

  /**
   * What a render of `page` may use: the engine's intrinsics without the
   * optional ones ({@link LAZY_BUILTINS}) that neither the page nor any file
   * it includes by literal name (recursively) mentions, and the `request`
   * properties they read. A file that includes by a computed name gets everything.
   */
  private usage(page: Loaded): Usage {
    if (page.usage) return page.usage;
    const acc: { builtins: Set<keyof Intrinsics> | null; request: Set<string> | null } = {
      builtins: new Set(),
      request: new Set(),
    };
    const usage: Usage = this.collect(page, acc, new Set([page.file]))
      ? { intrinsics: acc.builtins ? this.trim(acc.builtins) : this.intrinsics, request: acc.request }
      : { intrinsics: this.intrinsics, request: null };
    if (page.includes?.length === 0) page.usage = usage;
    return usage;
  }

  private trim(wanted: Set<keyof Intrinsics>): Intrinsics {
    let key = "";
    for (const [name] of LAZY_BUILTINS) if (!wanted.has(name) && this.intrinsics[name]) key += `${name},`;
    if (key === "") return this.intrinsics;
    let intrinsics = this.trimmed.get(key);
    if (!intrinsics) {
      intrinsics = { ...this.intrinsics };
      for (const [name] of LAZY_BUILTINS) if (!wanted.has(name)) intrinsics[name] = false;
      this.trimmed.set(key, intrinsics);
    }
    return intrinsics;
  }

  /** Adds what `tpl` and its static includes use to `acc`; false when one includes by a computed name. */
  private collect(
    tpl: Loaded,
    acc: { builtins: Set<keyof Intrinsics> | null; request: Set<string> | null },
    seen: Set<string>,
  ): boolean {
    if (!tpl.analyzed) {
      tpl.builtins = builtinNeeds(tpl.code);
      tpl.includes = staticIncludes(tpl.code);
      tpl.requestFields = requestFields(tpl.code);
      tpl.analyzed = true;
    }
    if (!tpl.includes) return false;
    if (!tpl.builtins) acc.builtins = null;
    else if (acc.builtins) for (const name of tpl.builtins) acc.builtins.add(name);
    if (!tpl.requestFields) acc.request = null;
    else if (acc.request) for (const name of tpl.requestFields) acc.request.add(name);
    for (const target of tpl.includes) {
      let path: string;
      let included: Loaded | undefined;
      try {
        path = resolveSitePath(tpl.file, target);
        if (seen.has(path)) continue;
        seen.add(path);
        included = this.load(path);
      } catch {
        continue; // the include fails when the page runs, with its own error
      }
      if (included && !this.collect(included, acc, seen)) return false;
    }
    return true;
  }

  /** Code defining the API globals `tpl` names that this context lacks (one line). */
  private definitions(state: RenderState, tpl: Loaded): string {
    tpl.needs ??= apiNeeds(tpl.code);
    let out = "";
    for (const name of tpl.needs) {
      if (state.defined.has(name)) continue;
      if (name === "request") {
        // The request crosses as a JSON string in a global, so the code around it stays the same
        // for every request (and can be compiled once).
        const json = state.ctx.newString(requestJson(state.request, state.requestFields));
        state.ctx.setProp(state.ctx.global, "__rq", json);
        json.dispose();
        out += "var request=JSON.parse(__rq);__rq=undefined;";
      } else if (name === "fetch" && !this.options.fetch) continue;
      else if (name === "log" && !state.defined.has("console")) out += API.console! + API.log!;
      else out += API[name]!;
      state.defined.add(name);
      if (name === "log") state.defined.add("console");
    }
    return out;
  }

  private async recover(): Promise<void> {
    const { module, bytecode } =
      this.options.bytecode === false
        ? { module: await loadQuickJS(heapFor(this.options)), bytecode: undefined }
        : await loadBytecodeModule(heapFor(this.options));
    if (!this.broken) return;
    this.guard = new GuardedRuntime(module, this.options.limits);
    this.bytecode = bytecode;
    this.broken = false;
  }

  /** Frees the QuickJS runtime. */
  dispose(): void {
    this.disposed = true;
    this.guard.dispose();
  }

  private load(path: string): CompiledTemplate | undefined {
    const now = performance.now();
    const entry = this.cache.get(path);
    const revalidate = this.options.revalidateMs ?? 0;
    if (entry && revalidate > 0 && now - entry.checked < revalidate) return entry.tpl;
    const version = this.options.files.version(path);
    if (version === undefined) {
      this.cache.delete(path);
      return undefined;
    }
    if (entry && entry.version === version) {
      entry.checked = now;
      return entry.tpl;
    }
    const content = this.options.files.read(path);
    if (content === undefined) return undefined;
    const text = typeof content === "string" ? content : DECODER.decode(content);
    const tpl = path.endsWith(".js") ? compileScript(text, path) : compileTemplate(text, path);
    this.cache.set(path, { version, checked: now, tpl });
    return tpl;
  }

  private async settle(state: RenderState, mapStack: (s: string) => string): Promise<void> {
    const deadline = Date.now() + (this.options.asyncTimeoutMs ?? 10_000);
    const rt = this.guard.runtime;
    for (;;) {
      if (rt.hasPendingJob()) {
        this.guard.start();
        const r = rt.executePendingJobs();
        this.guard.stop();
        if (r.error) throw this.guard.toError(state.ctx, r.error, mapStack);
        continue;
      }
      if (state.pending.size === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new ScriptError("Error", "page timed out waiting for fetch", state.stack[0]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.race(state.pending),
        new Promise<void>((done) => {
          timer = setTimeout(done, left);
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /** Turns the page's {@link TAIL} string into the response (the context is still alive). */
  private finish(state: RenderState, tail: string, mapStack: (s: string) => string): PageResult {
    const b = tail.indexOf("\x01");
    const c = tail.indexOf("\x01", b + 1);
    const d = tail.indexOf("\x01", c + 1);
    const count = Number(tail.slice(0, b));
    const length = Number(tail.slice(b + 1, c));
    if (d < 0 || !Number.isInteger(count) || !Number.isInteger(length)) throw corrupted(state);
    // Values escaped all at once (site numbers have nothing to escape); the
    // unescaped ones are split only for print() output, which is rare.
    let escaped: string[] | undefined;
    let raw = (): string[] => [];
    if (tail.length - d - 1 === length && count > 0) {
      const joined = tail.slice(d + 1);
      escaped = escapeHtml(joined).split("\x1f");
      raw = () => joined.split("\x1f");
    } else if (tail.length - d - 1 === length) escaped = [];
    if (escaped?.length !== count) {
      // A value contains \x1f or \0: ask for the values as JSON.
      this.guard.start();
      const r = state.ctx.evalCode(VALUES_JSON, "<wirehouse>");
      this.guard.stop();
      if (r.error) throw this.guard.toError(state.ctx, r.error, mapStack);
      const values = JSON.parse(state.ctx.getString(r.value)) as string[];
      r.value.dispose();
      if (!Array.isArray(values)) throw corrupted(state);
      escaped = values.map(escapeHtml);
      raw = () => values;
    }
    let metaJson = "";
    if (tail.slice(c + 1, d) !== "0") {
      this.guard.start();
      const r = state.ctx.evalCode(META, "<wirehouse>");
      this.guard.stop();
      if (r.error) throw this.guard.toError(state.ctx, r.error, mapStack);
      metaJson = state.ctx.getString(r.value);
      r.value.dispose();
    }
    const meta = metaJson
      ? (JSON.parse(metaJson) as [
          unknown,
          unknown,
          [string, string][],
          [string, string, CookieOptions | null][],
          unknown,
        ])
      : undefined;
    let body = joinOutput(escaped, raw, state);
    let status = 200;
    let type = "text/html; charset=utf-8";
    const headers: [string, string][] = [];
    const cookies: string[] = [];
    if (meta !== undefined) {
      const [s, t, hs, cs, b] = meta;
      if (b !== undefined && b !== null) body = String(b);
      const n = Number(s);
      if (!Number.isInteger(n) || n < 100 || n > 999) {
        throw new ScriptError("TypeError", `invalid response.status: ${String(s)}`, state.stack[0]);
      }
      status = n;
      if (t !== undefined && t !== null) type = String(t);
      for (const [name, value] of hs) headers.push([checkHeaderName(name, state), checkHeaderValue(value, state)]);
      for (const [name, value, opts] of cs) cookies.push(serializeCookie(name, value, opts, state));
    }
    const out: [string, string][] = [["content-type", checkHeaderValue(type, state)]];
    for (const h of headers) {
      if (h[0] === "content-type") out[0] = h;
      else out.push(h);
    }
    for (const c of cookies) out.push(["set-cookie", c]);
    return { status, headers: out, body: ENCODER.encode(body) };
  }

  private hostOp(
    state: RenderState,
    opH: QuickJSHandle,
    aH: QuickJSHandle | undefined,
    bH: QuickJSHandle | undefined,
  ): QuickJSHandle | { error: QuickJSHandle } | undefined {
    const ctx = state.ctx;
    const op = ctx.getNumber(opH);
    const str = (h: QuickJSHandle | undefined) => (h === undefined ? "" : ctx.getString(h));
    const fail = (message: string, name = "Error") => ({ error: ctx.newError({ name, message }) });
    switch (op) {
      case OP_INCLUDE:
        return this.include(state, str(aH));
      case OP_READ: {
        let path: string;
        try {
          path = resolveSitePath(state.stack[state.stack.length - 1]!, str(aH));
        } catch (e) {
          return fail((e as Error).message);
        }
        const content = this.options.files.read(path);
        if (content === undefined) return ctx.null;
        return ctx.newString(typeof content === "string" ? content : DECODER.decode(content));
      }
      case OP_LOG: {
        const level = str(aH) as LogEntry["level"];
        this.options.log?.({ level, message: str(bH), file: state.stack[state.stack.length - 1]! });
        return undefined;
      }
      case OP_ST_GET: {
        const v = this.store(state).get(str(aH));
        return v === undefined ? undefined : ctx.newString(v);
      }
      case OP_ST_SET:
        try {
          this.store(state).set(str(aH), str(bH));
        } catch (e) {
          return fail((e as Error).message, "RangeError");
        }
        return undefined;
      case OP_ST_DEL:
        return this.store(state).delete(str(aH)) ? ctx.true : ctx.false;
      case OP_ST_KEYS:
        return ctx.newString(JSON.stringify(this.store(state).keys()));
      case OP_EMIT:
        this.options.events?.emit(str(aH), str(bH));
        return undefined;
      case OP_FETCH:
        return this.fetch(state, str(aH), str(bH));
      default:
        return fail("unknown host operation");
    }
  }

  private store(state: RenderState): {
    get(k: string): string | undefined;
    set(k: string, v: string): void;
    delete(k: string): boolean;
    keys(): string[];
  } {
    const s = this.options.storage;
    if (s)
      return {
        get: (k) => s.getJson(k),
        set: (k, v) => s.setJson(k, v),
        delete: (k) => s.delete(k),
        keys: () => s.keys(),
      };
    state.memory ??= new Map();
    const m = state.memory;
    return {
      get: (k) => m.get(k),
      set: (k, v) => void m.set(k, v),
      delete: (k) => m.delete(k),
      keys: () => [...m.keys()],
    };
  }

  private include(state: RenderState, target: string): QuickJSHandle | { error: QuickJSHandle } | undefined {
    const ctx = state.ctx;
    const from = state.stack[state.stack.length - 1]!;
    let path: string;
    try {
      path = resolveSitePath(from, target);
    } catch (e) {
      return {
        error: ctx.newError({
          name: e instanceof PathError ? "Error" : "Error",
          message: `include: ${(e as Error).message}`,
        }),
      };
    }
    if (state.stack.includes(path)) {
      return {
        error: ctx.newError({ name: "Error", message: `include cycle: ${[...state.stack, path].join(" -> ")}` }),
      };
    }
    let tpl: CompiledTemplate | undefined;
    try {
      tpl = this.load(path);
    } catch (e) {
      if (e instanceof ScriptError) {
        return {
          error: ctx.newError({
            name: e.errorName,
            message: `${e.message.slice(e.errorName.length + 2)} (${e.describe().split(": ")[0]})`,
          }),
        };
      }
      throw e;
    }
    if (!tpl) return { error: ctx.newError({ name: "Error", message: `include: no such file: ${path}` }) };
    const defs = this.definitions(state, tpl);
    if (defs) {
      const d = ctx.evalCode(defs, "<wirehouse>");
      if (d.error) return { error: d.error };
      d.value.dispose();
    }
    state.files.set(path, [tpl, 0]);
    (state.included ??= new Map()).set(tpl.serial, tpl);
    state.stack.push(path);
    const r = this.run(ctx, tpl, "includeBytecode", () => tpl.code);
    state.stack.pop();
    if (r.error) return { error: r.error };
    r.value.dispose();
    return undefined;
  }

  private fetch(state: RenderState, url: string, initJson: string): QuickJSHandle | { error: QuickJSHandle } {
    const ctx = state.ctx;
    const policy = this.options.fetch!;
    const denied = checkFetchAllowed(policy, url);
    if (denied) return { error: ctx.newError({ name: "TypeError", message: denied }) };
    const deferred = ctx.newPromise();
    const p = runFetch(policy, url, initJson).then(
      (json) => {
        if (!ctx.alive) return;
        const s = ctx.newString(json);
        deferred.resolve(s);
        s.dispose();
      },
      (e: unknown) => {
        if (!ctx.alive) return;
        const err = ctx.newError({ name: "TypeError", message: `fetch failed: ${(e as Error)?.message ?? String(e)}` });
        deferred.reject(err);
        err.dispose();
      },
    );
    const tracked = p.finally(() => {
      state.pending.delete(tracked);
      if (deferred.alive) deferred.dispose();
    });
    state.pending.add(tracked);
    return deferred.handle.dup();
  }
}

interface CookieOptions {
  maxAge?: number;
  expires?: string | number;
  path?: string;
  domain?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(s: string): string {
  return /[&<>"']/.test(s) ? s.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : s;
}

/**
 * The page's output: `__o` holds runs of values, each followed by its site
 * number (see template.ts), or a raw value followed by -1 (`print`). Read
 * from the end, a site number says how many values precede it; the site's
 * static texts go around them. `parts` are the entries HTML-escaped, `raw()`
 * the same entries unescaped (for `print` output). Anything that does not parse (the
 * page wrote to `__o` itself) is refused rather than guessed at.
 */
function joinOutput(parts: string[], raw: () => string[], state: RenderState): string {
  let tpl: CompiledTemplate | undefined;
  let unescaped: string[] | undefined;
  const pieces: string[] = [];
  let i = parts.length - 1;
  while (i >= 0) {
    const n = Number(parts[i]);
    if (n === -1 && i >= 1) {
      unescaped ??= raw();
      pieces.push(unescaped[i - 1]!);
      i -= 2;
      continue;
    }
    const serial = Math.floor(n / SITE_STRIDE);
    if (tpl?.serial !== serial) tpl = templateOf(serial, state);
    const texts = Number.isInteger(n) ? tpl?.sites[n - serial * SITE_STRIDE] : undefined;
    const k = texts ? texts.length - 1 : -1;
    if (!texts || i - k < 0) throw corrupted(state);
    pieces.push(texts[k]!);
    for (let t = k - 1; t >= 0; t--) pieces.push(parts[i - k + t]!, texts[t]!);
    i -= k + 1;
  }
  let body = "";
  for (let p = pieces.length - 1; p >= 0; p--) body += pieces[p];
  return body;
}

function templateOf(serial: number, state: RenderState): CompiledTemplate | undefined {
  const page = state.files.get(state.stack[0]!)?.[0];
  return page?.serial === serial ? page : state.included?.get(serial);
}

function corrupted(state: RenderState): ScriptError {
  return new ScriptError("Error", "the page wrote to its output buffer (__o) itself", state.stack[0]);
}

function checkHeaderName(name: string, state: RenderState): string {
  if (!TOKEN.test(name))
    throw new ScriptError("TypeError", `invalid header name: ${JSON.stringify(name)}`, state.stack[0]);
  return name.toLowerCase();
}

function checkHeaderValue(value: string, state: RenderState): string {
  // RFC 9110 §5.5: CR, LF and NUL are never allowed in a field value (header injection).
  if (/[\r\n\0]/.test(value))
    throw new ScriptError("TypeError", `invalid header value: ${JSON.stringify(value)}`, state.stack[0]);
  return value;
}

function serializeCookie(name: string, value: string, o: CookieOptions | null, state: RenderState): string {
  if (!TOKEN.test(name))
    throw new ScriptError("TypeError", `invalid cookie name: ${JSON.stringify(name)}`, state.stack[0]);
  let out = `${name}=${encodeURIComponent(value)}`;
  if (o) {
    if (o.maxAge !== undefined) out += `; Max-Age=${Math.floor(Number(o.maxAge))}`;
    if (o.expires !== undefined) out += `; Expires=${new Date(o.expires).toUTCString()}`;
    if (o.domain !== undefined) out += `; Domain=${checkHeaderValue(String(o.domain), state).replace(/;/g, "")}`;
    out += `; Path=${o.path !== undefined ? checkHeaderValue(String(o.path), state).replace(/;/g, "") : "/"}`;
    if (o.secure) out += "; Secure";
    if (o.httpOnly) out += "; HttpOnly";
    if (o.sameSite !== undefined) {
      const s = String(o.sameSite).toLowerCase();
      out += `; SameSite=${s === "none" ? "None" : s === "lax" ? "Lax" : "Strict"}`;
    }
  } else out += "; Path=/";
  return out;
}

/**
 * The request as JSON, with path, query and cookies derived when absent;
 * only the properties in `fields` (all when `null`).
 */
function requestJson(r: PageRequest, fields: Set<string> | null): string {
  const all = fields === null;
  if (!all && fields.size <= 2 && !fields.has("query") && !fields.has("cookies")) {
    // The common case of a page reading one or two plain properties.
    const out: Record<string, unknown> = {};
    for (const name of fields) {
      if (name === "path") out.path = pathOf(r);
      else if (name === "remoteAddress") out.remoteAddress = r.remoteAddress ?? "";
      else if (name === "headers") out.headers = r.headers ?? {};
      else if (name === "body") out.body = r.body ?? null;
      else if (name === "method" || name === "url") out[name] = r[name];
    }
    return JSON.stringify(out);
  }
  let { path, query, cookies } = r;
  if (path === undefined || query === undefined) {
    const q = r.url.indexOf("?");
    if (path === undefined) {
      const raw = q < 0 ? r.url : r.url.slice(0, q);
      try {
        path = decodeURIComponent(raw);
      } catch {
        path = raw;
      }
    }
    if (query === undefined) {
      query = {};
      if (q >= 0) {
        for (const [k, v] of new URLSearchParams(r.url.slice(q + 1))) {
          const old = query[k];
          query[k] = old === undefined ? v : Array.isArray(old) ? [...old, v] : [old, v];
        }
      }
    }
  }
  const headers = r.headers ?? {};
  if (cookies === undefined) {
    cookies = {};
    const header = headers.cookie;
    if (header) {
      for (const part of header.split(";")) {
        const eq = part.indexOf("=");
        if (eq < 0) continue;
        const k = part.slice(0, eq).trim();
        let v = part.slice(eq + 1).trim();
        if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        try {
          v = decodeURIComponent(v);
        } catch {}
        if (k && !(k in cookies)) cookies[k] = v;
      }
    }
  }
  const full: Record<string, unknown> = {
    method: r.method,
    url: r.url,
    path,
    query,
    headers,
    cookies,
    remoteAddress: r.remoteAddress ?? "",
    body: r.body ?? null,
  };
  if (!all) for (const name of Object.keys(full)) if (!fields.has(name)) delete full[name];
  return JSON.stringify(full);
}

function pathOf(r: PageRequest): string {
  if (r.path !== undefined) return r.path;
  const q = r.url.indexOf("?");
  const raw = q < 0 ? r.url : r.url.slice(0, q);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Rewrites every `file:line:col` frame of a known file to its template line and column. */
export function mapFrames(stack: string, files: Map<string, [CompiledTemplate, number]>): string {
  const mapped = stack.replace(
    /([^\s():]+):(\d+)(?::(\d+))?/g,
    (all, file: string, l: string, c: string | undefined) => {
      const known = files.get(file);
      if (!known) return all;
      const [tpl, offset] = known;
      const gen = Number(l) - 1 - offset;
      if (gen < 0) return "<wirehouse>";
      if (gen >= tpl.lines.length) return all;
      const line = tpl.lines[gen]!;
      if (c === undefined) return `${file}:${line}`;
      return `${file}:${line}:${Math.max(1, Number(c) + tpl.cols[gen]!)}`;
    },
  );
  // Frames inside the page API prelude say nothing about the page.
  return mapped
    .split("\n")
    .filter((l) => !l.includes("<wirehouse>"))
    .join("\n");
}
