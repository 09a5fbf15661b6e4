/**
 * A websocket script inside its worker: one QuickJS context that lives as
 * long as the script, fed with batches of events. Handlers are global
 * functions of the script (`onConnect`, `onMessage`, `onDisconnect`,
 * `onRequest`); each gets a fresh CPU budget; an exception in a handler is
 * logged and the script goes on; running out of budget or memory is fatal
 * (the host restarts the script).
 * @module
 */
import type { QuickJSWASMModule } from "quickjs-emscripten";
import { cpuMicros, recentCpuMicros } from "./cpu-time.ts";
import { BudgetExceededError, OutOfMemoryError, type SandboxError } from "./errors.ts";
import { checkFetchAllowed, type FetchPolicy, runFetch } from "./fetch.ts";
import {
  GuardedRuntime,
  isEngineFault,
  type Limits,
  type QuickJSContext,
  type QuickJSHandle,
  SCRIPT_INTRINSICS,
} from "./quickjs.ts";

const OP_BIN = 1;
const OP_TIMER = 6;
const OP_CLEAR = 7;
const OP_ST_GET = 10;
const OP_ST_SET = 11;
const OP_ST_DEL = 12;
const OP_ST_KEYS = 13;
const OP_FETCH = 17;

/**
 * The script API, evaluated once per script as "<wirehouse>". Everything the
 * script does that the host only has to apply later (send, close, broadcast,
 * log, storage writes, event subscriptions and emits, request replies) is
 * pushed onto `O` in the guest, in order, as WorkerOp arrays; a batch returns
 * them as one JSON string, so a text echo crosses between the host and
 * QuickJS once per batch, not per message. Only what needs the host at once
 * calls `__h`: a binary payload (copied out, its index in the transfer list
 * returned), timers, storage reads and writes of the replica, fetch.
 * `K.n` counts handler calls that returned: the interrupt handler reads it to
 * give each handler its own CPU budget.
 */
const PRELUDE = `(function(){
var H=__h,C=new Map(),T=new Map(),L=new Map(),tn=0,O=[],K={n:0};
var S=function(v){return typeof v=="string"?v:v instanceof Error?String(v)+(v.stack?"\\n"+v.stack:""):(function(){try{return JSON.stringify(v)}catch(e){return String(v)}})()};
var pay=function(d){if(typeof d=="string")return d;if(d instanceof ArrayBuffer)return {$b:H(${OP_BIN},d)};if(ArrayBuffer.isView(d))return {$b:H(${OP_BIN},d.buffer.slice(d.byteOffset,d.byteOffset+d.byteLength))};return String(d)};
var lg=function(l){return function(){O.push(["log",l,[].map.call(arguments,S).join(" ")])}};
var oom=function(e){return e&&e.name==="InternalError"&&/out of memory/.test(e.message)};
var err=function(name,e){if(oom(e))throw e;O.push(["log","error","uncaught exception in "+name+": "+S(e)])};
var call=function(name,f,args){if(typeof f!=="function")return undefined;var r;try{r=f.apply(undefined,args)}catch(e){err(name,e)}K.n++;return r};
var mk=function(id,info){info=JSON.parse(info);var h=info.headers||{};return {id:id,lag:0,url:info.url,path:info.path,query:info.query,remoteAddress:info.remoteAddress,
send:function(d){O.push(["s",id,typeof d=="string"?d:pay(d)])},close:function(c,r){O.push(["x",id,c===undefined?1000:+c,r===undefined?"":String(r)])},
header:function(n){var v=h[String(n).toLowerCase()];return v===undefined?null:v},redirect:function(u){this._redirect=String(u)}}};
var g=globalThis;
g.log=lg("log");g.console={log:g.log,info:lg("info"),warn:lg("warn"),error:lg("error"),debug:g.log};
g.clients=function(){return Array.from(C.values())};
g.broadcast=function(d,except){O.push(["b",pay(d),except==null?-1:typeof except=="object"?except.id:+except])};
var timer=function(rep){return function(fn,ms){var id=++tn,args=[].slice.call(arguments,2);if(typeof fn!=="function")throw new TypeError("callback must be a function");T.set(id,{f:fn,a:args,r:rep});H(${OP_TIMER},id,Math.max(0,+ms||0),rep?1:0);return id}};
g.setTimeout=timer(false);g.setInterval=timer(true);
g.clearTimeout=g.clearInterval=function(id){if(T.delete(id))H(${OP_CLEAR},id)};
g.storage={get:function(k){var v=H(${OP_ST_GET},String(k));return v===undefined?undefined:JSON.parse(v)},
set:function(k,v){k=String(k);v=JSON.stringify(v);if(v===undefined)g.storage.delete(k);else{H(${OP_ST_SET},k,v);O.push(["st",k,v])}},
delete:function(k){k=String(k);var had=H(${OP_ST_DEL},k);if(had)O.push(["st",k,null]);return had},keys:function(){return JSON.parse(H(${OP_ST_KEYS}))}};
g.events={on:function(n,f){n=String(n);var a=L.get(n);if(!a){L.set(n,a=[]);O.push(["sub",n])}a.push(f)},
off:function(n,f){n=String(n);var a=L.get(n);if(!a)return;var i=a.indexOf(f);if(i>=0)a.splice(i,1);if(!a.length){L.delete(n);O.push(["unsub",n])}},
emit:function(n,d){O.push(["emit",String(n),JSON.stringify(d===undefined?null:d)])}};
if(g.__hf)g.fetch=function(u,i){var p;try{p=H(${OP_FETCH},String(u),JSON.stringify(i||{}))}catch(e){return Promise.reject(e)}return p.then(function(j){var r=JSON.parse(j);
return {status:r.status,ok:r.status>=200&&r.status<300,url:r.url,headers:r.headers,text:function(){return Promise.resolve(r.body)},json:function(){return Promise.resolve(JSON.parse(r.body))}}})};
g.escapeHtml=function(v){v=v==null?"":String(v);return v.replace(/[&<>"']/g,function(c){return c=="&"?"&amp;":c=="<"?"&lt;":c==">"?"&gt;":c=='"'?"&quot;":"&#39;"})};
var take=function(){if(!O.length)return "";var s=JSON.stringify(O);O=[];return s};
return {k:K,take:take,batch:function(json){var ev=JSON.parse(json),bins=arguments;
for(var i=0;i<ev.length;i++){var e=ev[i],k=e[0],c,d,f;
if(k==="m"){c=C.get(e[1]);f=g.onMessage;if(c&&typeof f=="function"){d=e[2];if(typeof d!="string")d=bins[1+d.$b];try{f(c,d)}catch(x){err("onMessage",x)}K.n++}}
else if(k==="c"){c=mk(e[1],e[2]);C.set(e[1],c);call("onConnect",g.onConnect,[c])}
else if(k==="d"){c=C.get(e[1]);if(c){C.delete(e[1]);call("onDisconnect",g.onDisconnect,[c,e[2],e[3]])}}
else if(k==="r"){c=mk(e[1],e[2]);var r=call("onRequest",g.onRequest,[c]);O.push(["rr",e[3],c._redirect===undefined?null:c._redirect,typeof r=="string"?r:null])}
else if(k==="l"){c=C.get(e[1]);if(c)c.lag=e[2]}
else if(k==="e"){var a=L.get(e[1]);if(a){var v=JSON.parse(e[2]);a.slice().forEach(function(f){call("event "+e[1],f,[v,e[1]])})}}
else if(k==="t"){var t=T.get(e[1]);if(t){if(!t.r)T.delete(e[1]);call("timer",t.f,t.a)}}}
return take()}};
})()`;

/** How old the CPU-time reading a script run starts from may be (see recentCpuMicros). */
const CPU_SAMPLE_MS = 5;

/**
 * Runs one websocket script. What it does is collected as operations
 * (`WorkerOp`, see ws-protocol.ts) and taken with {@link ScriptEngine.take}: JSON text plus
 * the binary payloads it names by index.
 */
export class ScriptEngine {
  private readonly guard: GuardedRuntime;
  private readonly ctx: QuickJSContext;
  private batchFn: QuickJSHandle | undefined;
  private takeFn: QuickJSHandle | undefined;
  /** The guest's handler counter object `K` (`K.n`). */
  private counter: QuickJSHandle | undefined;
  private api: QuickJSHandle | undefined;
  private readonly storage = new Map<string, string>();
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  /** Operations taken from the guest so far: JSON arrays of WorkerOp (each "[…]"), in order. */
  private chunks: string[] = [];
  private bins: ArrayBuffer[] = [];
  // The CPU budget: a wall-clock deadline per handler, CPU time counted from the start of the run.
  private deadline = Number.POSITIVE_INFINITY;
  private cpuStart = 0;
  private handlerSeen = 0;
  /** Set once the script hit a budget, memory or engine fault: nothing runs after. */
  fatal: SandboxError | undefined;

  constructor(
    module: QuickJSWASMModule,
    readonly file: string,
    limits: Limits,
    storage: [string, string][],
    private readonly onTimer: (id: number) => void,
    private readonly fetchPolicy?: FetchPolicy,
    /** Called after an asynchronous host operation (fetch) settled and its promise jobs ran. */
    private readonly onAsync: (fatal: SandboxError | undefined) => void = () => {},
  ) {
    for (const [k, v] of storage) this.storage.set(k, v);
    this.guard = new GuardedRuntime(module, limits);
    this.ctx = this.guard.runtime.newContext({ intrinsics: SCRIPT_INTRINSICS });
    const budgetMicros = this.guard.limits.cpuMs * 1000;
    // Each handler gets the budget. The guest counts handlers that returned; once the deadline
    // has passed, a moved count means the running handler started after the deadline was
    // armed, so it gets a fresh deadline from now (it may thus run up to twice its budget when
    // the handlers before it used most of theirs). Counting costs the guest one increment per
    // handler and the host nothing until a deadline passes. Once interrupted it keeps
    // answering "interrupt" so that `finally` blocks cannot resume the script.
    this.guard.runtime.setInterruptHandler(() => {
      if (this.guard.interrupted) return true;
      const now = performance.now();
      if (now <= this.deadline) return false;
      const n = this.handlers();
      if (n !== this.handlerSeen) {
        this.handlerSeen = n;
        this.deadline = now + this.guard.limits.cpuMs;
        return false;
      }
      // Past the wall-clock deadline: charge only CPU time actually used (a busy machine
      // that descheduled us does not fail a cheap handler).
      if (cpuMicros && cpuMicros() - this.cpuStart < budgetMicros) return false;
      this.guard.interrupted = true;
      return true;
    });
  }

  /** Evaluates the API prelude and the script's top level. Returns the error, if any. */
  load(source: string): SandboxError | undefined {
    const ctx = this.ctx;
    const h = ctx.newFunction("__h", (...args) => this.hostOp(args));
    ctx.setProp(ctx.global, "__h", h);
    h.dispose();
    if (this.fetchPolicy) ctx.setProp(ctx.global, "__hf", ctx.true);
    const pre = ctx.evalCode(PRELUDE, "<wirehouse>");
    if (pre.error) return this.fail(pre.error);
    this.api = pre.value;
    this.batchFn = ctx.getProp(this.api, "batch");
    this.takeFn = ctx.getProp(this.api, "take");
    this.counter = ctx.getProp(this.api, "k");
    ctx.evalCode("delete globalThis.__h;delete globalThis.__hf", "<wirehouse>").dispose();
    return this.run(() => ctx.evalCode(source, this.file));
  }

  /** Storage changed on the host (another script or a page). */
  storageChanged(key: string, json: string | null): void {
    if (json === null) this.storage.delete(key);
    else this.storage.set(key, json);
  }

  /**
   * Delivers a batch of events (JSON of HostEvent[], binary payloads as
   * `{"$b": i}` into `bins`); returns a fatal error if the script must be restarted.
   */
  dispatch(json: string, bins: ArrayBuffer[] = []): SandboxError | undefined {
    if (this.fatal || !this.batchFn) return this.fatal;
    const ctx = this.ctx;
    const handles: QuickJSHandle[] = [ctx.newString(json)];
    for (const b of bins) handles.push(ctx.newArrayBuffer(b));
    try {
      return this.run(() => ctx.callFunction(this.batchFn!, ctx.undefined, handles), true);
    } finally {
      if (!this.fatal) for (const h of handles) h.dispose();
    }
  }

  /**
   * The operations performed since the last take: JSON text of a WorkerOp[]
   * (binary payloads as `{"$b": i}` into `bins`), "[]" when there were none.
   */
  take(): { ops: string; bins: ArrayBuffer[] } {
    const c = this.chunks;
    const ops = c.length === 0 ? "[]" : c.length === 1 ? c[0]! : `[${c.map((s) => s.slice(1, -1)).join(",")}]`;
    const bins = this.bins;
    this.chunks = [];
    this.bins = [];
    return { ops, bins };
  }

  /** Timers the script set; the worker drives them. */
  clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private handlers(): number {
    if (!this.counter) return 0;
    const h = this.ctx.getProp(this.counter, "n");
    const n = this.ctx.getNumber(h);
    h.dispose();
    return n;
  }

  /** Arms the CPU budget for one synchronous run. */
  private arm(): void {
    this.guard.interrupted = false;
    this.handlerSeen = this.handlers();
    const now = performance.now();
    this.deadline = now + this.guard.limits.cpuMs;
    this.cpuStart = cpuMicros ? recentCpuMicros(now, CPU_SAMPLE_MS) : 0;
  }

  private disarm(): void {
    this.deadline = Number.POSITIVE_INFINITY;
  }

  /**
   * Runs `fn` (and then the promise jobs it started) under the budget, then
   * takes the guest's operations. `returnsOps`: `fn`'s value is the JSON of
   * the operations (the batch function returns them).
   */
  private run(
    fn: () => { error?: QuickJSHandle; value?: QuickJSHandle },
    returnsOps = false,
  ): SandboxError | undefined {
    const ctx = this.ctx;
    try {
      this.arm();
      const r = fn();
      this.disarm();
      if (r.error) return this.failAndTake(r.error);
      if (r.value) {
        if (returnsOps) this.push(ctx.getString(r.value));
        r.value.dispose();
      }
      // Promise jobs the handlers started run now, under the same kind of budget.
      while (this.guard.runtime.hasPendingJob()) {
        this.arm();
        const j = this.guard.runtime.executePendingJobs();
        this.disarm();
        if (j.error) {
          const e = this.failAndTake(j.error);
          if (this.fatal) return e;
          this.chunks.push(JSON.stringify([["log", "error", `uncaught exception in a promise job: ${e.describe()}`]]));
        } else this.takeGuest();
      }
      if (!returnsOps) this.takeGuest();
      return undefined;
    } catch (e) {
      this.disarm();
      if (!isEngineFault(e)) throw e;
      this.fatal = new OutOfMemoryError(this.guard.limits.memoryBytes, this.file, undefined, undefined, String(e));
      this.clearTimers();
      return this.fatal;
    }
  }

  private push(json: string): void {
    if (json !== "") this.chunks.push(json);
  }

  /** Moves the guest's pending operations to the host side. */
  private takeGuest(): void {
    if (!this.takeFn) return;
    const ctx = this.ctx;
    const r = ctx.callFunction(this.takeFn, ctx.undefined);
    if (r.error) {
      r.error.dispose();
      return;
    }
    this.push(ctx.getString(r.value));
    r.value.dispose();
  }

  /** An error out of a run: operations performed before it still reach the host (a fault closes clients after them). */
  private failAndTake(handle: QuickJSHandle): SandboxError {
    const e = this.fail(handle);
    try {
      this.takeGuest();
    } catch (x) {
      if (!isEngineFault(x)) throw x;
    }
    return e;
  }

  private fail(handle: QuickJSHandle): SandboxError {
    const e = this.guard.toError(this.ctx, handle);
    if (e instanceof BudgetExceededError || e instanceof OutOfMemoryError) {
      this.fatal = e;
      this.clearTimers();
    }
    return e;
  }

  private fetch(url: string, initJson: string): QuickJSHandle | { error: QuickJSHandle } {
    const ctx = this.ctx;
    const policy = this.fetchPolicy!;
    const denied = checkFetchAllowed(policy, url);
    if (denied) return { error: ctx.newError({ name: "TypeError", message: denied }) };
    const deferred = ctx.newPromise();
    void runFetch(policy, url, initJson)
      .then(
        (json) => {
          if (this.fatal || !ctx.alive) return;
          const s = ctx.newString(json);
          deferred.resolve(s);
          s.dispose();
        },
        (e: unknown) => {
          if (this.fatal || !ctx.alive) return;
          const err = ctx.newError({
            name: "TypeError",
            message: `fetch failed: ${(e as Error)?.message ?? String(e)}`,
          });
          deferred.reject(err);
          err.dispose();
        },
      )
      .finally(() => {
        if (this.fatal || !ctx.alive) return;
        if (deferred.alive) deferred.dispose();
        this.onAsync(this.run(() => ({})));
      });
    return deferred.handle.dup();
  }

  private hostOp(args: QuickJSHandle[]): QuickJSHandle | { error: QuickJSHandle } | undefined {
    const ctx = this.ctx;
    const num = (i: number) => ctx.getNumber(args[i]!);
    const str = (i: number) => ctx.getString(args[i]!);
    switch (num(0)) {
      case OP_BIN: {
        // A binary payload: copied out of QuickJS's memory, transferred with the batch.
        const view = ctx.getArrayBuffer(args[1]!);
        try {
          this.bins.push(view.value.slice().buffer);
        } finally {
          view.dispose();
        }
        return ctx.newNumber(this.bins.length - 1);
      }
      case OP_TIMER: {
        const id = num(1);
        const ms = num(2);
        const repeat = num(3) === 1;
        const t = repeat
          ? setInterval(() => this.onTimer(id), ms)
          : setTimeout(() => {
              this.timers.delete(id);
              this.onTimer(id);
            }, ms);
        this.timers.set(id, t);
        return undefined;
      }
      case OP_CLEAR: {
        const id = num(1);
        const t = this.timers.get(id);
        if (t !== undefined) {
          clearTimeout(t);
          clearInterval(t);
          this.timers.delete(id);
        }
        return undefined;
      }
      case OP_ST_GET: {
        const v = this.storage.get(str(1));
        return v === undefined ? undefined : ctx.newString(v);
      }
      case OP_ST_SET:
        this.storage.set(str(1), str(2));
        return undefined;
      case OP_ST_DEL:
        return this.storage.delete(str(1)) ? ctx.true : ctx.false;
      case OP_ST_KEYS:
        return ctx.newString(JSON.stringify([...this.storage.keys()]));
      case OP_FETCH:
        return this.fetch(str(1), str(2));
      default:
        return undefined;
    }
  }
}
