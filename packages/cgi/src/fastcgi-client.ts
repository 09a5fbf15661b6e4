/**
 * A FastCGI client (responder role) for php-fpm and other FastCGI servers,
 * over TCP or a Unix socket, with a bounded pool of kept-alive connections
 * (FCGI_KEEP_CONN) and multiplexing when the peer says FCGI_MPXS_CONNS=1.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { lineLogger, pipeBody } from "./cgi-process.ts";
import {
  encodeAbortRequest,
  encodeGetValues,
  encodeRecord,
  encodeRequest,
  encodeStream,
  FCGI,
  FcgiDecoder,
  type FcgiRecord,
} from "./fastcgi-record.ts";
import { OutputChannel } from "./response.ts";
import type { CgiLogger, CgiRequestBody, FastCgiTarget } from "./types.ts";

export interface FastCgiRequest {
  params: Iterable<readonly [string, string]>;
  /** GET, HEAD and OPTIONS may be sent once more when a reused connection turns out closed. */
  method?: string;
  body: CgiRequestBody;
  label: string;
}

export interface FastCgiCall {
  out: OutputChannel;
  cancel(reason?: "timeout" | "cancelled"): void;
}

/** Pipelined requests are not queued behind a request that has run longer than this (ms). */
const PIPELINE_BEHIND_MS = 100;

const isSafe = (method = "") =>
  method === "GET" || method === "HEAD" || method === "OPTIONS" || /^(GET|HEAD|OPTIONS)$/i.test(method);

/** Parses "host:port", "[v6]:port" or a socket path. */
export function parseAddress(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith("/") || address.startsWith("./") || address.startsWith("unix:")) {
    return { path: address.startsWith("unix:") ? address.slice(5) : address };
  }
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (m === null) throw new Error(`FastCGI address ${JSON.stringify(address)}: expected host:port or /path.sock`);
  return { host: m[1]!, port: Number(m[2]) };
}

interface Active {
  id: number;
  out: OutputChannel;
  stderr: ReturnType<typeof lineLogger>;
  label: string;
  aborted: boolean;
  /** Output or stderr arrived: the peer started it. */
  touched: boolean;
  /** Sends the request again on another connection (pipelined requests with a whole body only). */
  replay: (() => void) | null;
  /** Its streamed body is still being written. */
  writingBody: boolean;
  /** Sent on a connection that had already served a request (or behind another). */
  reused: boolean;
  /** Pipelined: sent while another request ran on the same non-multiplexed connection. */
  queued: boolean;
  /** A safe method (GET, HEAD, OPTIONS) that has not been resent yet. */
  retryOnReuse: boolean;
}

class Connection {
  readonly socket: Socket;
  private readonly decoder = new FcgiDecoder();
  readonly active = new Map<number, Active>();
  /** Requests assigned to this connection (counted from acquire, before their records are sent). */
  load = 0;
  /** Requests answered (END_REQUEST) on this connection. */
  served = 0;
  /** Requests still streaming their body: nothing may be queued behind them (records would interleave). */
  writing = 0;
  /** When its oldest request started running (pipelining avoids queueing behind slow ones). */
  busySince = 0;
  private nextId = 1;
  broken = false;
  /** The socket is connected (requests can be written at once). */
  connected = false;
  /** When it last went idle (for the pool's idle sweep). */
  idleSince = 0;
  ready: Promise<void>;

  constructor(
    readonly pool: FastCgiPool,
    address: ReturnType<typeof parseAddress>,
  ) {
    this.socket = connect(address as never);
    this.socket.setNoDelay?.(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once("connect", () => {
        this.connected = true;
        resolve();
      });
      this.socket.once("error", reject);
    });
    this.ready.catch(() => {});
    this.socket.on("data", (chunk: Uint8Array) => this.onData(chunk));
    this.socket.on("error", (err) => this.fail(`FastCGI connection to ${pool.address} failed: ${err.message}`));
    this.socket.on("close", () => this.fail(`FastCGI server at ${pool.address} closed the connection mid-request`));
  }

  allocateId(): number {
    // Spec §3.3: ids are reused once a request ended; stay within 1..65535.
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 65535 ? 1 : this.nextId + 1;
      if (!this.active.has(id)) return id;
    }
  }

  private onData(chunk: Uint8Array) {
    const { records, error } = this.decoder.push(chunk);
    for (const r of records) this.onRecord(r);
    if (error) {
      this.fail(`malformed FastCGI response from ${this.pool.address}: ${error.message}`, "malformed");
    }
  }

  private onRecord(r: FcgiRecord) {
    const req = this.active.get(r.requestId);
    if (req === undefined) return;
    switch (r.type) {
      case "stdout":
        req.touched = true;
        if (!req.aborted) req.out.push(r.data);
        return;
      case "stderr":
        req.touched = true;
        req.stderr.push(r.data);
        return;
      case "end-request": {
        this.active.delete(r.requestId);
        this.served++;
        req.stderr.flush();
        let replay: (() => void) | null = null;
        if (!req.aborted) {
          if (r.protocolStatus === FCGI.REQUEST_COMPLETE) req.out.end();
          else if (
            req.queued &&
            !req.touched &&
            req.replay !== null &&
            (r.protocolStatus === FCGI.CANT_MPX_CONN || r.protocolStatus === FCGI.OVERLOADED)
          ) {
            // A peer that refuses a request sent behind another (spec §5.5): it never ran, so it
            // goes again on its own, and this pool stops pipelining.
            this.pool.stopPipelining(r.protocolStatus === FCGI.CANT_MPX_CONN ? "cannot multiplex" : "overloaded");
            replay = req.replay;
          } else {
            const why = ["complete", "cannot multiplex", "overloaded", "unknown role"][r.protocolStatus] ?? "unknown";
            this.pool.log("error", `${req.label}: FastCGI server refused the request (${why})`);
            req.out.fail("crash", `FastCGI server refused the request: ${why}`);
          }
        }
        if (req.writingBody) {
          // The peer answered before reading the whole body: the rest would reach the next
          // request on this connection, so the connection ends here.
          req.aborted = true;
          this.broken = true;
          this.socket.destroy();
          this.pool.drop(this);
          return;
        }
        this.pool.release(this);
        replay?.();
        return;
      }
      default:
        return;
    }
  }

  /**
   * The connection is unusable. `headGone`: the oldest request was already
   * taken out (cancelled), so every remaining one is still queued.
   */
  fail(message: string, reason: "connection" | "malformed" = "connection", headGone = false) {
    if (this.broken) return;
    this.broken = true;
    const replays: Array<() => void> = [];
    // Without multiplexing the peer runs requests strictly in order: those behind
    // the oldest never started, so they can safely go to another connection.
    let oldest = !headGone;
    const inOrder = !this.pool.multiplexing;
    for (const req of this.active.values()) {
      const mayHaveStarted = oldest || !inOrder;
      oldest = false;
      if (req.aborted) continue;
      if (!req.touched && req.replay !== null) {
        // Queued behind the running request: it never started.
        if (!mayHaveStarted) {
          replays.push(req.replay);
          continue;
        }
        // A kept connection the peer closed as we reused it (php-fpm's pm.max_requests recycles
        // a worker right after its END_REQUEST). Indistinguishable from a crash before any
        // output, so only safe methods are sent again, once (as nginx's proxy_next_upstream).
        if (req.reused && req.retryOnReuse && reason === "connection") {
          replays.push(req.replay);
          continue;
        }
      }
      this.pool.log("error", `${req.label}: ${message}`);
      req.stderr.flush();
      req.out.fail(reason === "malformed" ? "malformed" : "crash", message);
    }
    this.active.clear();
    this.socket.destroy();
    this.pool.drop(this);
    for (const replay of replays) replay();
  }

  /** The request the peer is working on (non-multiplexed connections run them in order). */
  isOldest(a: Active): boolean {
    for (const first of this.active.values()) return first === a;
    return false;
  }
}

interface Waiter {
  resolve: (c: Connection) => void;
  reject: (e: Error) => void;
  queueable: boolean;
  streaming: boolean;
}

/** Connections to one FastCGI address. */
export class FastCgiPool {
  readonly address: string;
  private readonly target: ReturnType<typeof parseAddress>;
  private maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly keepAlive: boolean;
  private multiplex: boolean | "auto";
  private maxRequests = 1;
  private pipeline: number;
  private probing: Promise<void> | null = null;
  private readonly conns = new Set<Connection>();
  private readonly idle: Connection[] = [];
  private readonly waiters: Waiter[] = [];
  private closed = false;
  readonly extraParams: Array<[string, string]>;

  constructor(
    config: FastCgiTarget,
    readonly log: CgiLogger,
  ) {
    this.address = config.address;
    this.target = parseAddress(config.address);
    this.maxConnections = Math.max(1, config.maxConnections ?? 4);
    this.idleTimeoutMs = config.idleTimeoutMs ?? 5000;
    this.keepAlive = config.keepAlive ?? true;
    // Multiplexing needs FCGI_KEEP_CONN: without it the peer closes after one request.
    this.multiplex = this.keepAlive ? (config.multiplex ?? "auto") : false;
    if (this.multiplex === true) this.maxRequests = 64;
    // Pipelining needs kept connections too: without FCGI_KEEP_CONN the peer closes after one request.
    this.pipeline = this.keepAlive ? Math.max(1, Math.min(config.pipeline ?? 2, 16)) : 1;
    this.extraParams = Object.entries(config.params ?? {});
  }

  /** The peer refused a pipelined request: send one request at a time from now on. */
  stopPipelining(why: string) {
    if (this.pipeline === 1) return;
    this.pipeline = 1;
    this.log("warn", `FastCGI server at ${this.address} refused a pipelined request (${why}): pipelining off`);
  }

  get multiplexing(): boolean {
    return this.multiplex === true;
  }

  /** What the peer answered to GET_VALUES (after the first request). */
  get info(): { multiplex: boolean; maxConnections: number; maxRequestsPerConnection: number } {
    return {
      multiplex: this.multiplex === true,
      maxConnections: this.maxConnections,
      maxRequestsPerConnection: this.maxRequests,
    };
  }

  /**
   * Spec §4.1: asks FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS on a
   * separate connection (php-fpm keeps a worker on it, so it is closed at once).
   */
  private probe(): Promise<void> {
    this.probing ??= new Promise<void>((resolve) => {
      const socket = connect(this.target as never);
      const decoder = new FcgiDecoder();
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (this.multiplex === "auto") this.multiplex = false;
        resolve();
      };
      const timer = setTimeout(done, 1000);
      socket.on("connect", () => socket.write(encodeGetValues(["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"])));
      socket.on("data", (chunk: Uint8Array) => {
        for (const r of decoder.push(chunk).records) {
          if (r.type !== "get-values-result") continue;
          const values = new Map(r.pairs);
          const mpx = values.get("FCGI_MPXS_CONNS") === "1";
          const maxConns = Number(values.get("FCGI_MAX_CONNS"));
          const maxReqs = Number(values.get("FCGI_MAX_REQS"));
          if (maxConns > 0) this.maxConnections = Math.min(this.maxConnections, maxConns);
          if (this.multiplex === "auto") {
            this.multiplex = mpx;
            this.maxRequests = mpx ? Math.max(1, Math.min(maxReqs > 0 ? maxReqs : 64, 1024)) : 1;
          }
          done();
        }
      });
      socket.on("error", () => {
        // Leave "auto": the next request probes again (the server may not be up yet).
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.probing = null;
        resolve();
      });
      socket.on("close", done);
    });
    return this.probing;
  }

  /** Counts a request on `c`; a streamed body marks it so nothing is queued behind it. */
  private assign(c: Connection, streaming: boolean): Connection {
    if (c.load === 0) c.busySince = Date.now();
    c.load++;
    if (streaming) c.writing++;
    return c;
  }

  /**
   * `queueable`: the request may wait behind another on a kept connection
   * (pipelining: a safe method with a whole body); `streaming`: its body is
   * streamed, so nothing may be queued behind it.
   */
  private async acquire(queueable: boolean, streaming: boolean): Promise<Connection> {
    if (this.closed) throw new Error("FastCGI pool closed");
    if (this.multiplex === "auto") await this.probe();
    return (
      this.pick(queueable, streaming) ??
      new Promise<Connection>((resolve, reject) => this.waiters.push({ resolve, reject, queueable, streaming }))
    );
  }

  /** A connection for a request right now (idle, new, or one to queue behind), or null: wait. */
  private pick(queueable: boolean, streaming: boolean): Connection | null {
    if (this.multiplex === true) {
      // Spec §3.3: the peer multiplexes, so fill one connection before opening another.
      for (const c of this.conns) {
        if (!c.broken && c.load > 0 && c.load < this.maxRequests) return this.assign(c, streaming);
      }
    }
    let c = this.idle.pop();
    while (c?.broken) c = this.idle.pop();
    if (c !== undefined) return this.assign(c, streaming);
    if (this.conns.size < this.maxConnections) {
      const conn = new Connection(this, this.target);
      this.conns.add(conn);
      return this.assign(conn, streaming);
    }
    // Never ahead of requests already waiting (they are served in order as connections free up).
    if (queueable && this.pipeline > 1 && this.multiplex !== true && this.waiters.length === 0) {
      // Queue behind the least-loaded connection whose requests are fully written and whose
      // running request is not a slow one: the peer reads the next request once it ends.
      const now = Date.now();
      let best: Connection | null = null;
      for (const k of this.conns) {
        if (k.broken || k.writing > 0 || k.load >= this.pipeline || now - k.busySince > PIPELINE_BEHIND_MS) continue;
        if (best === null || k.load < best.load) best = k;
      }
      if (best !== null) return this.assign(best, false);
    }
    return null;
  }

  /** A request ended on `c`: hand the connection to a waiter or keep it idle. */
  release(c: Connection) {
    c.load = Math.max(0, c.load - 1);
    if (c.broken) return;
    if (!this.keepAlive) {
      // The peer closes after END_REQUEST; close our side now and give the slot to a waiter.
      c.broken = true;
      c.socket.destroy();
      this.drop(c);
      return;
    }
    if (this.multiplex === true ? c.load < this.maxRequests : c.load === 0) {
      const w = this.waiters.shift();
      if (w !== undefined) {
        w.resolve(this.assign(c, w.streaming));
        return;
      }
    } else if (c.load < this.pipeline && c.writing === 0 && this.multiplex !== true) {
      // Pipelining: the request queued behind the one that ended starts now. The first waiter
      // may queue behind it if it is a safe method with a whole body; any other first waiter
      // gets this connection once it is free (so a stream of GETs cannot starve a POST).
      c.busySince = Date.now();
      if (this.waiters[0]?.queueable) {
        const w = this.waiters.shift()!;
        w.resolve(this.assign(c, false));
        return;
      }
    }
    if (c.load > 0) return;
    if (this.closed) {
      c.socket.end();
      return;
    }
    c.idleSince = Date.now();
    this.idle.push(c);
    // One sweep timer for the pool rather than a timer per release (a timer per request).
    if (this.sweeper === null) this.scheduleSweep(this.idleTimeoutMs);
  }

  private sweeper: ReturnType<typeof setTimeout> | null = null;

  /** Closes connections idle for idleTimeoutMs; runs while any connection is idle. */
  private scheduleSweep(delay: number) {
    this.sweeper = setTimeout(() => {
      this.sweeper = null;
      if (this.closed) return;
      const now = Date.now();
      let next = Number.POSITIVE_INFINITY;
      // `idle` is a stack: the oldest idle connections are at the front.
      for (let i = 0; i < this.idle.length; ) {
        const c = this.idle[i]!;
        const left = c.idleSince + this.idleTimeoutMs - now;
        if (left > 0) {
          next = Math.min(next, left);
          i++;
          continue;
        }
        this.idle.splice(i, 1);
        this.conns.delete(c);
        c.broken = true;
        c.socket.end();
      }
      if (next !== Number.POSITIVE_INFINITY) this.scheduleSweep(next);
    }, delay);
    (this.sweeper as { unref?: () => void }).unref?.();
  }

  /** A connection broke: forget it, and let a waiter open a new one. */
  drop(c: Connection) {
    this.conns.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    const w = this.waiters.shift();
    if (w !== undefined && !this.closed) {
      const conn = new Connection(this, this.target);
      this.conns.add(conn);
      w.resolve(this.assign(conn, w.streaming));
    }
  }

  request(req: FastCgiRequest): FastCgiCall {
    let conn: Connection | null = null;
    let active: Active | null = null;
    let cancelled = false;
    const out = new OutputChannel(
      () => conn?.socket.pause(),
      () => conn?.socket.resume(),
    );
    const stderr = lineLogger(this.log, `${req.label} stderr`);
    // Only whole bodies can be sent again; only safe methods may be pipelined, so that a
    // queued request that meets a closing connection can always be sent again.
    const replayable = req.body === null || req.body instanceof Uint8Array;
    const safe = isSafe(req.method);
    const queueable = replayable && safe;
    let retried = false;
    const start = async () => {
      // Fast path, no await before the write: a kept connection is free now (and the peer was probed).
      const now =
        this.multiplex !== "auto" && !this.closed && this.waiters.length === 0
          ? this.pick(queueable, !replayable)
          : null;
      const c = now ?? (await this.acquire(queueable, !replayable));
      try {
        if (cancelled) {
          this.release(c);
          return;
        }
        conn = c;
        if (!c.connected) await c.ready;
        await send(c);
      } finally {
        if (!replayable) c.writing--;
      }
    };
    const send = async (c: Connection) => {
      const id = c.allocateId();
      // Sent behind a request still running (pipelined): the peer reads it once that one ends.
      const queued = this.multiplex !== true && c.active.size > 0;
      const a: Active = {
        id,
        out,
        stderr,
        label: req.label,
        aborted: false,
        touched: false,
        replay: queueable ? attempt : null,
        writingBody: false,
        queued,
        reused: c.served > 0 || queued,
        retryOnReuse: safe && !retried,
      };
      active = a;
      c.active.set(id, a);
      const flags = this.keepAlive ? FCGI.KEEP_CONN : 0;
      const params = this.extraParams.length === 0 ? req.params : [...req.params, ...this.extraParams];
      const body = req.body;
      if (body === null || body instanceof Uint8Array) {
        // The whole request (BEGIN_REQUEST, PARAMS, STDIN) in one buffer and one write.
        c.socket.write(encodeRequest(id, FCGI.RESPONDER, flags, params, body));
        return;
      }
      c.socket.write(encodeRequest(id, FCGI.RESPONDER, flags, params));
      a.writingBody = true;
      const sink = {
        write: (chunk: Uint8Array) => c.socket.write(encodeStream(FCGI.STDIN, id, chunk)),
        end: (chunk?: Uint8Array) => {
          if (c.broken || a.aborted) return;
          if (chunk !== undefined && chunk.length > 0) c.socket.write(encodeStream(FCGI.STDIN, id, chunk));
          c.socket.write(encodeRecord(FCGI.STDIN, id));
        },
        once: (e: "drain" | "close" | "error", fn: () => void) => c.socket.once(e, fn),
        off: (e: "drain" | "close" | "error", fn: () => void) => c.socket.off(e, fn),
        get destroyed() {
          return c.broken || a.aborted;
        },
      };
      try {
        await pipeBody(body, sink);
      } finally {
        a.writingBody = false;
      }
    };
    const attempt = () => {
      if (active !== null) retried = true;
      conn = null;
      active = null;
      if (cancelled || out.finished) return;
      start().catch((err: NodeJS.ErrnoException) => {
        const msg = `cannot reach FastCGI server at ${this.address}: ${err.code ?? err.message}`;
        if (!out.finished) this.log("error", `${req.label}: ${msg}`);
        out.fail("crash", msg);
        if (conn !== null && active === null) (conn as Connection).fail(msg);
      });
    };
    attempt();
    return {
      out,
      cancel: (reason = "cancelled") => {
        if (cancelled || out.finished) return;
        cancelled = true;
        out.fail(reason, reason === "timeout" ? `FastCGI request to ${this.address} timed out` : "request cancelled");
        const c = conn as Connection | null;
        const a = active as Active | null;
        if (c === null || a === null) return;
        a.aborted = true;
        if (this.multiplex === true && !c.broken) {
          // Spec §5.4: the peer answers ABORT_REQUEST with END_REQUEST; the connection stays usable.
          c.socket.write(encodeAbortRequest(a.id));
        } else if (c.isOldest(a)) {
          // The peer is running it: output may still be in flight, so close rather than reuse.
          // Requests pipelined behind it never started and move to another connection.
          c.active.delete(a.id);
          c.fail("request aborted", "connection", true);
        }
        // Else it is queued behind another (pipelining): the peer will run it; its output is ignored.
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new Error("FastCGI pool closed"));
    if (this.sweeper !== null) clearTimeout(this.sweeper);
    this.sweeper = null;
    for (const c of this.idle.splice(0)) {
      c.broken = true;
      c.socket.destroy();
    }
    for (const c of this.conns) if (c.load === 0) c.socket.destroy();
    this.conns.clear();
  }
}
