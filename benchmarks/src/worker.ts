/**
 * @module
 * One load generator worker process (Node or Bun): owns a share of the
 * connections, talks raw TCP (`transport.ts`: libuv handles on Node,
 * `Bun.connect` on Bun) with its own handshake and pre-built masked frames,
 * and reports counts and an encoded latency histogram to the coordinator over
 * IPC. Started by `loadgen.ts`; not meant to be run by hand.
 */
import { closeSync, openSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import {
  buildClientFrame,
  buildServerFrame,
  countWhole,
  DEFAULT_MASK,
  FrameReader,
  makePayload,
  OP_BINARY,
  OP_TEXT,
  repeatFrame,
} from "./frames.ts";
import { buildUpgradeRequest, EXPECTED_ACCEPT, readUpgradeResponse } from "./handshake.ts";
import { encodeHistogram, LatencyRecorder } from "./stats.ts";
import { type Link, pickTransport, type Sink } from "./transport.ts";

/** What the coordinator asks of one worker. */
export interface WorkerPlan {
  mode: "echo" | "idle" | "connect" | "broadcast";
  url: string;
  /**
   * More servers to spread the connections over, round-robin by global index with `url` (several
   * instances of one service, e.g. broadcast through Redis). The publisher always uses `url`.
   */
  moreUrls?: string[];
  /** Connections this worker owns (subscribers in broadcast mode). */
  connections: number;
  /** Global index of this worker's first connection (picks its source address). */
  firstIndex: number;
  /** Source addresses to spread connections over (empty: let the kernel choose). */
  sources: string[];
  /** Message size in bytes. */
  size: number;
  binary: boolean;
  /** Messages in flight per connection (echo) or for the publisher (broadcast). */
  inFlight: number;
  /** Handshakes in flight while opening. */
  connectInFlight: number;
  /** Broadcast: this worker also owns the publisher connection. */
  publisher: boolean;
  /** Give up on a handshake after this long. */
  connectTimeoutMs: number;
}

/** Messages between coordinator and worker. */
export type ToWorker =
  | { type: "plan"; plan: WorkerPlan }
  | { type: "open" }
  | { type: "run"; warmupMs: number; durationMs: number }
  | { type: "close" };

export type FromWorker =
  | { type: "ready" }
  | { type: "opened"; opened: number; failed: number; elapsedMs: number; cpuPercent: number; error?: string }
  | {
      type: "result";
      messages: number;
      sent: number;
      elapsedMs: number;
      histogram: string;
      errors: number;
      closedByServer: number;
      published: number;
      /** This worker's CPU time while measuring, as a percentage of one core (user, system). */
      cpuUser: number;
      cpuSystem: number;
    };

/**
 * One connection of this worker. Its handshake state lives in fields and the
 * transport calls its methods (no closures per connection); a mode replaces
 * `onBytes` on the connections it drives.
 */
class Conn implements Sink {
  link!: Link;
  /** Reads frames after the handshake (until a mode takes over, they are read and dropped). */
  reader: FrameReader | undefined;
  /** The response head so far, when it came in more than one read. */
  head: Uint8Array | undefined;
  /** The handshake finished (well or not). */
  settled = false;
  /** When the handshake started (performance.now()). */
  started = 0;

  constructor(
    /** Global index (picks the source address and port). */
    readonly index: number,
    /** Which URL of the plan. */
    readonly target: number,
    readonly retry: number,
  ) {}

  onConnect(): void {
    this.link.write(requests[this.target]!);
  }

  onBytes(buf: Uint8Array, n: number): void {
    const reader = this.reader;
    if (reader) {
      reader.push(buf, n);
      return;
    }
    // Usually the whole response head comes in one read: look at it in the shared buffer, copy only if split.
    let bytes = buf;
    let length = n;
    if (this.head) {
      bytes = new Uint8Array(this.head.length + n);
      bytes.set(this.head);
      bytes.set(buf.subarray(0, n), this.head.length);
      length = bytes.length;
    }
    const r = readUpgradeResponse(bytes, 8192, length);
    if (r.state === "incomplete") {
      this.head = bytes.slice(0, length);
      return;
    }
    this.head = undefined;
    if (r.state === "rejected") {
      settle(this, false, r.reason);
      return;
    }
    this.reader = new FrameReader();
    if (length > r.headLength) this.reader.push(bytes, length, r.headLength);
    settle(this, true);
  }

  onClose(error?: string, code?: string): void {
    if (!this.settled && code === "EADDRINUSE" && this.retry < 3) {
      // The chosen port is taken by someone else's listener on all addresses: let the kernel pick one.
      this.settled = true;
      opening.delete(this);
      startConn(this.index, this.target, this.retry + 1);
      return;
    }
    if (error) {
      errors++;
      lastError ??= error;
    }
    if (this.settled && !stopped) closedByServer++;
    settle(this, false, error ?? "closed during handshake");
  }
}

const send = (m: FromWorker) => process.send!(m);

let plan: WorkerPlan;
/** The sockets of this runtime (raw libuv handles on Node, Bun.connect on Bun). */
const transport = pickTransport();
const conns: Conn[] = [];
/** Broadcast: the publisher's connection (the last of this worker's plan, on the first URL). */
let publisherConn: Conn | undefined;
let errors = 0;
let closedByServer = 0;
let lastError: string | undefined;
let measuring = false;
let stopped = false;
let messages = 0;
let sent = 0;
let published = 0;
let latencies = new LatencyRecorder();

/** Monotonic nanoseconds as a double (exact below 2^53 ns, about 104 days of uptime); the same clock in every process. */
const nowNs = () => Number(process.hrtime.bigint());

/** Ports per source address; below the ephemeral range (32768+), above the privileged one. */
export const PORTS_PER_SOURCE = 30_000;
const FIRST_PORT = 2048;

/**
 * The source address and port of connection `index`: each connection gets its
 * own (address, port) pair, so the kernel binds without searching for a free
 * port (a bind to port 0 scans the port space and gets slow as thousands of
 * ports fill up). On a retry the kernel chooses the port.
 */
function sourceFor(index: number, retry: number): { localAddress?: string; localPort?: number } {
  const sources = plan.sources;
  if (!sources.length) return {};
  const localAddress = sources[Math.floor(index / PORTS_PER_SOURCE) % sources.length];
  return retry > 0 ? { localAddress } : { localAddress, localPort: FIRST_PORT + (index % PORTS_PER_SOURCE) };
}

/** Handshakes under way (one sweep a quarter second gives up on slow ones: no timer per connection). */
const opening = new Set<Conn>();
/** The plan's URLs and their upgrade requests, built once. */
let urls: URL[] = [];
let requests: Uint8Array[] = [];
/** Opening progress: next connection to start, handshakes finished, failed. */
let nextConn = 0;
let settledCount = 0;
let failedCount = 0;
let onAllSettled: () => void = () => {};

/** Starts the handshake of connection `index` (global) on URL `target`. */
function startConn(index: number, target: number, retry = 0): void {
  const conn = new Conn(index, target, retry);
  const url = urls[target]!;
  const { localAddress, localPort } = sourceFor(index, retry);
  conn.started = performance.now();
  opening.add(conn);
  conn.link = transport.connect(
    {
      host: url.hostname,
      port: Number(url.port || 80),
      ...(localAddress ? { localAddress } : {}),
      ...(localPort ? { localPort } : {}),
      noDelay: plan.mode === "echo" || plan.mode === "broadcast",
    },
    conn,
  );
}

/** Ends a handshake once: keeps the connection or counts the failure, then starts the next one. */
function settle(conn: Conn, ok: boolean, why?: string): void {
  if (conn.settled && !opening.has(conn)) return;
  conn.settled = true;
  opening.delete(conn);
  if (ok) {
    conns.push(conn);
    if (plan.publisher && conn.index === plan.firstIndex + plan.connections - 1) publisherConn = conn;
  } else {
    lastError ??= why;
    conn.link.reset();
    failedCount++;
  }
  if (++settledCount === plan.connections) onAllSettled();
  else if (nextConn < plan.connections) startNext();
}

function startNext(): void {
  const i = nextConn++;
  // The publisher (this worker's last connection when it owns it) is always on the first URL.
  const target = plan.publisher && i === plan.connections - 1 ? 0 : (plan.firstIndex + i) % urls.length;
  startConn(plan.firstIndex + i, target);
}

/** Opens this worker's connections, `connectInFlight` handshakes at a time. */
function openAll(): Promise<{ opened: number; failed: number; elapsedMs: number; cpuPercent: number }> {
  urls = [plan.url, ...(plan.moreUrls ?? [])].map((u) => new URL(u));
  requests = urls.map((u) => buildUpgradeRequest(u));
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  return new Promise((resolve) => {
    let sweep: ReturnType<typeof setInterval> | undefined;
    onAllSettled = () => {
      clearInterval(sweep);
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      if (process.env.LOADGEN_DEBUG) {
        const per = (us: number) => (us / Math.max(1, conns.length)).toFixed(1);
        console.error(
          `open: ${conns.length} connections, per connection user ${per(cpu.user)} us, system ${per(cpu.system)} us (${transport.name})`,
        );
      }
      resolve({
        opened: conns.length,
        failed: failedCount,
        elapsedMs,
        cpuPercent: (cpu.user + cpu.system) / 10 / elapsedMs,
      });
    };
    if (plan.connections === 0) return onAllSettled();
    sweep = setInterval(() => {
      const limit = performance.now() - plan.connectTimeoutMs;
      for (const c of opening) if (c.started < limit) settle(c, false, "handshake timeout");
    }, 250);
    const lanes = Math.max(1, Math.min(plan.connectInFlight, plan.connections));
    for (let l = 0; l < lanes; l++) startNext();
  });
}

/** Echo: every connection keeps `inFlight` messages going; each reply is timed and answered with the next message. */
function runEcho(): void {
  const k = plan.inFlight;
  const frame = buildClientFrame(makePayload(plan.size), plan.binary ? OP_BINARY : OP_TEXT, DEFAULT_MASK);
  const all = repeatFrame(frame, k);
  // One view per count, so that `m` replies are answered by one write of the same bytes.
  const views = Array.from({ length: k + 1 }, (_, m) => all.subarray(0, m * frame.length));
  // The server's reply to each message: its header is checked, not parsed, while replies come whole.
  const reply = buildServerFrame(makePayload(plan.size), plan.binary ? OP_BINARY : OP_TEXT);
  const now0 = performance.now();
  for (const conn of conns) {
    const ring = new Float64Array(k).fill(now0);
    let pos = 0;
    const reader = conn.reader!;
    const link = conn.link;
    conn.onBytes = (chunk, end) => {
      let m = reader.idle() ? countWhole(chunk, end, reply) : -1;
      if (m < 0) m = reader.push(chunk, end);
      if (m === 0) return;
      const now = performance.now();
      if (measuring) {
        messages += m;
        for (let j = 0; j < m; j++) {
          const us = (now - ring[pos]!) * 1000;
          latencies.record(us);
          ring[pos] = now;
          pos = pos + 1 === k ? 0 : pos + 1;
        }
      } else {
        for (let j = 0; j < m; j++) {
          ring[pos] = now;
          pos = pos + 1 === k ? 0 : pos + 1;
        }
      }
      if (stopped) return;
      const n = Math.min(m, k); // a server never sends more than was asked, but stay bounded
      sent += n;
      link.write(views[n]!);
    };
    link.write(views[k]!);
    sent += k;
  }
}

/** Broadcast: subscribers time every delivered message from the timestamp in its first 8 bytes. */
function runBroadcast(publisher: Conn | undefined): void {
  let chunkNs = 0;
  const record = (sentNs: number) => {
    if (!measuring) return;
    messages++;
    latencies.record((chunkNs - sentNs) / 1000);
  };
  // What a subscriber receives: the published payload in an unmasked binary frame. While reads hold whole
  // copies of it (the usual case), the timestamps are read in place, without the general reader.
  const delivered = buildServerFrame(makePayload(Math.max(8, plan.size)), OP_BINARY);
  const len = delivered.length;
  const at = len - Math.max(8, plan.size);
  const scratch = new Uint8Array(8);
  const scratchView = new DataView(scratch.buffer);
  for (const conn of conns) {
    if (conn === publisher) continue;
    const reader = new FrameReader(8, (view) => record(view.getFloat64(0)));
    conn.reader = reader;
    conn.onBytes = (chunk, end) => {
      chunkNs = nowNs();
      const m = reader.idle() ? countWhole(chunk, end, delivered) : -1;
      if (m < 0) {
        reader.push(chunk, end);
        return;
      }
      for (let j = 0, p = at; j < m; j++, p += len) {
        for (let b = 0; b < 8; b++) scratch[b] = chunk[p + b]!;
        record(scratchView.getFloat64(0));
      }
    };
  }
  if (!publisher) return;
  // The publisher gets its own copy back (the server sends to everyone on /broadcast); each copy frees a slot.
  const size = Math.max(8, plan.size);
  const template = buildClientFrame(makePayload(size), OP_BINARY, DEFAULT_MASK);
  const stampAt = template.length - size;
  const stamp = new Uint8Array(8);
  const stampView = new DataView(stamp.buffer);
  const link = publisher.link;
  const publish = () => {
    const frame = template.slice();
    stampView.setFloat64(0, nowNs());
    for (let i = 0; i < 8; i++) frame[stampAt + i] = stamp[i]! ^ DEFAULT_MASK[i & 3]!;
    link.write(frame);
    if (measuring) published++;
    sent++;
  };
  publisher.onBytes = (chunk, end) => {
    const m = publisher.reader!.push(chunk, end);
    if (stopped) return;
    for (let j = 0; j < m; j++) publish();
  };
  for (let j = 0; j < plan.inFlight; j++) publish();
}

/**
 * Grows this process's file descriptor table to hold `count` descriptors before anything is
 * measured. Linux grows the table by doubling when a new descriptor does not fit, and in a
 * process with threads (every runtime here) each growth waits for an RCU grace period: 10–25 ms
 * on this VM, during which the socket() call blocks. Opening 10,000 connections crosses eight
 * such sizes, about 100 ms of stalls inside a measured second. Opening (and closing) that many
 * descriptors of /dev/null first moves the growth out of the measurement; the table never shrinks.
 */
function growDescriptorTable(count: number): void {
  if (process.platform !== "linux") return;
  const fds: number[] = [];
  try {
    for (let i = 0; i < count; i++) fds.push(openSync("/dev/null", "r"));
  } catch {
    // Out of descriptors (ulimit): the connections would fail too; the run reports it.
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** Handshakes the generator makes against its own stub before a connect run (see warmUp). */
const WARM_UP_CONNECTIONS = 3000;

/**
 * Runs the opening path (`openAll`) against a stub in this process before the measured connect
 * run: a fresh worker would otherwise spend its first two to three thousand handshakes in
 * unoptimized code (about 20 µs of JavaScript each instead of 8), which caps the rate it can
 * drive during the measurement. The server under test sees none of it: the stub listens on its
 * own port and answers every request head with a canned 101. All its connections are reset and
 * every counter is put back before the real plan runs.
 */
async function warmUp(): Promise<void> {
  const response = new TextEncoder().encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${EXPECTED_ACCEPT}\r\n\r\n`,
  );
  const accepted = new Set<Socket>();
  const stub = createServer((socket) => {
    accepted.add(socket);
    socket.on("data", () => socket.write(response));
    socket.on("error", () => {});
    socket.on("close", () => accepted.delete(socket));
  });
  await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
  const port = (stub.address() as { port: number }).port;
  const real = plan;
  plan = {
    ...real,
    url: `ws://127.0.0.1:${port}/`,
    moreUrls: [],
    sources: [],
    connections: WARM_UP_CONNECTIONS,
    firstIndex: 0,
    publisher: false,
  };
  try {
    await openAll();
  } finally {
    for (const c of conns) c.link.reset();
    for (const c of opening) c.link.reset();
    conns.length = 0;
    opening.clear();
    nextConn = settledCount = failedCount = 0;
    errors = closedByServer = 0;
    lastError = undefined;
    plan = real;
    for (const s of accepted) s.destroy();
    await new Promise<void>((resolve) => stub.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  process.on("message", async (msg: ToWorker) => {
    switch (msg.type) {
      case "plan":
        plan = msg.plan;
        growDescriptorTable(plan.connections + 256);
        if (plan.mode === "connect" && plan.connections > 0) await warmUp();
        send({ type: "ready" });
        break;
      case "open": {
        const r = await openAll();
        send({ type: "opened", ...r, ...(lastError ? { error: lastError } : {}) });
        break;
      }
      case "run": {
        let publisher: Conn | undefined;
        if (plan.mode === "broadcast" && plan.publisher) publisher = publisherConn ?? conns[conns.length - 1];
        if (plan.mode === "echo") runEcho();
        else runBroadcast(publisher);
        setTimeout(() => {
          latencies = new LatencyRecorder();
          messages = 0;
          published = 0;
          sent = 0;
          measuring = true;
          const started = performance.now();
          const cpu0 = process.cpuUsage();
          setTimeout(() => {
            measuring = false;
            stopped = true;
            const elapsedMs = performance.now() - started;
            const cpu = process.cpuUsage(cpu0);
            send({
              type: "result",
              messages,
              sent,
              elapsedMs,
              cpuUser: cpu.user / 10 / elapsedMs,
              cpuSystem: cpu.system / 10 / elapsedMs,
              histogram: encodeHistogram(latencies.histogram()),
              errors,
              closedByServer,
              published,
            });
          }, msg.durationMs);
        }, msg.warmupMs);
        break;
      }
      case "close":
        stopped = true;
        // Reset rather than close: no TIME_WAIT left on the client's ports between runs.
        for (const c of conns) c.link.reset();
        process.disconnect?.();
        setTimeout(() => process.exit(0), 50).unref();
        break;
    }
  });
  process.on("disconnect", () => process.exit(0));
}

void main();
