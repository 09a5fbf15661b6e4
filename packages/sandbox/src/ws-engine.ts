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
import type { WorkerOp } from "./ws-protocol.ts";

const OP_TICK = 0;
const OP_SEND = 1;
const OP_CLOSE = 2;
const OP_LOG = 3;
const OP_BROADCAST = 4;
const OP_REPLY = 5;
const OP_TIMER = 6;
const OP_CLEAR = 7;
const OP_ST_GET = 10;
const OP_ST_SET = 11;
const OP_ST_DEL = 12;
const OP_ST_KEYS = 13;
const OP_SUB = 14;
const OP_EMIT = 15;
const OP_UNSUB = 16;
const OP_FETCH = 17;

/** The script API, evaluated once per script as "<wirehouse>". */
const PRELUDE = `(function(){
var H=__h,C=new Map(),T=new Map(),L=new Map(),tn=0;
var S=function(v){return typeof v=="string"?v:v instanceof Error?String(v)+(v.stack?"\\n"+v.stack:""):(function(){try{return JSON.stringify(v)}catch(e){return String(v)}})()};
var bin=function(d){if(d instanceof ArrayBuffer)return d;if(ArrayBuffer.isView(d))return d.buffer.slice(d.byteOffset,d.byteOffset+d.byteLength);return String(d)};
var lg=function(l){return function(){H(${OP_LOG},l,[].map.call(arguments,S).join(" "))}};
var oom=function(e){return e&&e.name==="InternalError"&&/out of memory/.test(e.message)};
var call=function(name,f,args){if(typeof f!=="function")return undefined;H(${OP_TICK});try{return f.apply(undefined,args)}catch(e){if(oom(e))throw e;H(${OP_LOG},"error","uncaught exception in "+name+": "+S(e));return undefined}};
var mk=function(id,info){info=JSON.parse(info);var h=info.headers||{};return {id:id,lag:0,url:info.url,path:info.path,query:info.query,remoteAddress:info.remoteAddress,
send:function(d){H(${OP_SEND},id,bin(d))},close:function(c,r){H(${OP_CLOSE},id,c===undefined?1000:+c,r===undefined?"":String(r))},
header:function(n){var v=h[String(n).toLowerCase()];return v===undefined?null:v},redirect:function(u){this._redirect=String(u)}}};
var g=globalThis;
g.log=lg("log");g.console={log:g.log,info:lg("info"),warn:lg("warn"),error:lg("error"),debug:g.log};
g.clients=function(){return Array.from(C.values())};
g.broadcast=function(d,except){H(${OP_BROADCAST},bin(d),except==null?-1:typeof except=="object"?except.id:+except)};
var timer=function(rep){return function(fn,ms){var id=++tn,args=[].slice.call(arguments,2);if(typeof fn!=="function")throw new TypeError("callback must be a function");T.set(id,{f:fn,a:args,r:rep});H(${OP_TIMER},id,Math.max(0,+ms||0),rep?1:0);return id}};
g.setTimeout=timer(false);g.setInterval=timer(true);
g.clearTimeout=g.clearInterval=function(id){if(T.delete(id))H(${OP_CLEAR},id)};
g.storage={get:function(k){var v=H(${OP_ST_GET},String(k));return v===undefined?undefined:JSON.parse(v)},
set:function(k,v){v=JSON.stringify(v);if(v===undefined)H(${OP_ST_DEL},String(k));else H(${OP_ST_SET},String(k),v)},
delete:function(k){return H(${OP_ST_DEL},String(k))},keys:function(){return JSON.parse(H(${OP_ST_KEYS}))}};
g.events={on:function(n,f){n=String(n);var a=L.get(n);if(!a){L.set(n,a=[]);H(${OP_SUB},n)}a.push(f)},
off:function(n,f){n=String(n);var a=L.get(n);if(!a)return;var i=a.indexOf(f);if(i>=0)a.splice(i,1);if(!a.length){L.delete(n);H(${OP_UNSUB},n)}},
emit:function(n,d){H(${OP_EMIT},String(n),JSON.stringify(d===undefined?null:d))}};
if(g.__hf)g.fetch=function(u,i){var p;try{p=H(${OP_FETCH},String(u),JSON.stringify(i||{}))}catch(e){return Promise.reject(e)}return p.then(function(j){var r=JSON.parse(j);
return {status:r.status,ok:r.status>=200&&r.status<300,url:r.url,headers:r.headers,text:function(){return Promise.resolve(r.body)},json:function(){return Promise.resolve(JSON.parse(r.body))}}})};
g.escapeHtml=function(v){v=v==null?"":String(v);return v.replace(/[&<>"']/g,function(c){return c=="&"?"&amp;":c=="<"?"&lt;":c==">"?"&gt;":c=='"'?"&quot;":"&#39;"})};
return function(json){var ev=JSON.parse(json),bins=arguments;
for(var i=0;i<ev.length;i++){var e=ev[i],k=e[0],d;
if(k==="m"){d=e[2];if(d!==null&&typeof d=="object")d=bins[1+d.$b];var c=C.get(e[1]);if(c)call("onMessage",g.onMessage,[c,d])}
else if(k==="c"){var c=mk(e[1],e[2]);C.set(e[1],c);call("onConnect",g.onConnect,[c])}
else if(k==="d"){var c=C.get(e[1]);if(c){C.delete(e[1]);call("onDisconnect",g.onDisconnect,[c,e[2],e[3]])}}
else if(k==="r"){var c=mk(e[1],e[2]);var r=call("onRequest",g.onRequest,[c]);H(${OP_REPLY},e[3],c._redirect===undefined?null:c._redirect,typeof r=="string"?r:null)}
else if(k==="l"){var c=C.get(e[1]);if(c)c.lag=e[2]}
else if(k==="e"){var a=L.get(e[1]);if(a){var v=JSON.parse(e[2]);a.slice().forEach(function(f){call("event "+e[1],f,[v,e[1]])})}}
else if(k==="t"){var t=T.get(e[1]);if(t){if(!t.r)T.delete(e[1]);call("timer",t.f,t.a)}}}}
})()`;

/** Runs one websocket script; operations it performs go to `out`. */
export class ScriptEngine {
  private readonly guard: GuardedRuntime;
  private readonly ctx: QuickJSContext;
  private batchFn: QuickJSHandle | undefined;
  private readonly storage = new Map<string, string>();
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  /** Set once the script hit a budget, memory or engine fault: nothing runs after. */
  fatal: SandboxError | undefined;

  constructor(
    module: QuickJSWASMModule,
    readonly file: string,
    limits: Limits,
    storage: [string, string][],
    private readonly out: (op: WorkerOp, bin?: ArrayBuffer) => void,
    private readonly onTimer: (id: number) => void,
    private readonly fetchPolicy?: FetchPolicy,
    /** Called after an asynchronous host operation (fetch) settled and its promise jobs ran. */
    private readonly onAsync: (fatal: SandboxError | undefined) => void = () => {},
  ) {
    for (const [k, v] of storage) this.storage.set(k, v);
    this.guard = new GuardedRuntime(module, limits);
    this.ctx = this.guard.runtime.newContext({ intrinsics: SCRIPT_INTRINSICS });
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
    this.batchFn = pre.value;
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
      return this.run(() => ctx.callFunction(this.batchFn!, ctx.undefined, handles));
    } finally {
      if (!this.fatal) for (const h of handles) h.dispose();
    }
  }

  /** Timers the script set; the worker drives them. */
  clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private run(fn: () => { error?: QuickJSHandle; value?: QuickJSHandle }): SandboxError | undefined {
    try {
      this.guard.start();
      const r = fn();
      this.guard.stop();
      if (r.error) return this.fail(r.error);
      r.value?.dispose();
      // Promise jobs the handlers started run now, under the same kind of budget.
      while (this.guard.runtime.hasPendingJob()) {
        this.guard.start();
        const j = this.guard.runtime.executePendingJobs();
        this.guard.stop();
        if (j.error) {
          const e = this.fail(j.error);
          if (this.fatal) return e;
          this.out(["log", "error", `uncaught exception in a promise job: ${e?.describe()}`]);
        }
      }
      return undefined;
    } catch (e) {
      this.guard.stop();
      if (!isEngineFault(e)) throw e;
      this.fatal = new OutOfMemoryError(this.guard.limits.memoryBytes, this.file, undefined, undefined, String(e));
      return this.fatal;
    }
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
    const data = (i: number): string | ArrayBuffer => {
      const h = args[i]!;
      if (ctx.typeof(h) === "string") return ctx.getString(h);
      const view = ctx.getArrayBuffer(h);
      try {
        return view.value.slice().buffer;
      } finally {
        view.dispose();
      }
    };
    switch (num(0)) {
      case OP_TICK:
        this.guard.restart();
        return undefined;
      case OP_SEND: {
        const d = data(2);
        if (typeof d === "string") this.out(["s", num(1), d]);
        else this.out(["s", num(1), { $b: -1 }], d);
        return undefined;
      }
      case OP_CLOSE:
        this.out(["x", num(1), num(2), str(3)]);
        return undefined;
      case OP_LOG:
        this.out(["log", str(1), str(2)]);
        return undefined;
      case OP_BROADCAST: {
        const d = data(1);
        if (typeof d === "string") this.out(["b", d, num(2)]);
        else this.out(["b", { $b: -1 }, num(2)], d);
        return undefined;
      }
      case OP_REPLY: {
        const n = (i: number) => (ctx.typeof(args[i]!) === "string" ? str(i) : null);
        this.out(["rr", num(1), n(2), n(3)]);
        return undefined;
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
      case OP_ST_SET: {
        const k = str(1);
        const v = str(2);
        this.storage.set(k, v);
        this.out(["st", k, v]);
        return undefined;
      }
      case OP_ST_DEL: {
        const k = str(1);
        const had = this.storage.delete(k);
        if (had) this.out(["st", k, null]);
        return had ? ctx.true : ctx.false;
      }
      case OP_ST_KEYS:
        return ctx.newString(JSON.stringify([...this.storage.keys()]));
      case OP_SUB:
        this.out(["sub", str(1)]);
        return undefined;
      case OP_UNSUB:
        this.out(["unsub", str(1)]);
        return undefined;
      case OP_EMIT:
        this.out(["emit", str(1), str(2)]);
        return undefined;
      case OP_FETCH:
        return this.fetch(str(1), str(2));
      default:
        return undefined;
    }
  }
}
