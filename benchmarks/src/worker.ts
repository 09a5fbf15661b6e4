/**
 * @module
 * One load generator worker process: owns a share of the connections, talks
 * raw TCP (node:net) with its own handshake and pre-built masked frames, and
 * reports counts and an encoded latency histogram to the coordinator over IPC.
 * Started by `loadgen.ts`; not meant to be run by hand.
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { buildClientFrame, DEFAULT_MASK, FrameReader, makePayload, OP_BINARY, OP_TEXT, repeatFrame } from "./frames.ts";
import { buildUpgradeRequest, readUpgradeResponse } from "./handshake.ts";
import { encodeHistogram, newLatencyHistogram } from "./stats.ts";

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

interface Conn {
  socket: Socket;
  reader: FrameReader;
  /** Where the bytes of each read go (the handshake first, then the mode). */
  onBytes: (buf: Buffer, n: number) => void;
}

const send = (m: FromWorker) => process.send!(m);

let plan: WorkerPlan;
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
let histogram = newLatencyHistogram();

/** Monotonic nanoseconds as a double (exact below 2^53 ns, about 104 days of uptime); the same clock in every process. */
const nowNs = () => Number(process.hrtime.bigint());

interface WriteReq {
  handle: unknown;
  oncomplete: (status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Uint8Array | null;
}
interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
}
type Binding = (name: string) => { WriteWrap?: new () => WriteReq };

/** Node's own write request class (node:net's `writeGeneric` uses the same), when the runtime has it. */
const WriteWrap: (new () => WriteReq) | undefined = (() => {
  if (process.env.LOADGEN_PLAIN_WRITES) return undefined;
  try {
    return ((process as unknown as { binding: Binding }).binding("stream_wrap").WriteWrap ?? undefined) as
      | (new () => WriteReq)
      | undefined;
  } catch {
    return undefined;
  }
})();
const writeDone = () => {};

/**
 * A writer that hands bytes straight to the socket's libuv handle, skipping
 * the Writable stream machinery (queueing, callbacks, nextTick) that costs
 * more than the write itself for small frames. The same call node:net makes;
 * libuv keeps writes in order and `buffer` keeps the bytes alive if the write
 * goes asynchronous. Falls back to `socket.write` when the handle is not there.
 */
function writerFor(socket: Socket): (data: Uint8Array) => void {
  const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
  if (!WriteWrap || !handle || typeof handle.writeBuffer !== "function") return (data) => void socket.write(data);
  return (data) => {
    const req = new WriteWrap!();
    req.handle = handle;
    req.oncomplete = writeDone;
    req.async = false;
    req.bytes = 0;
    req.buffer = data;
    const err = handle.writeBuffer(req, data);
    if (err !== 0) {
      errors++;
      socket.destroy();
    }
  };
}

/**
 * Every socket reads into this one buffer (node:net's `onread`): no Buffer per
 * read and no stream machinery; the bytes are consumed before the next read.
 */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

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

/** Opens one connection and completes its handshake; resolves with the connection, or undefined on failure. */
function open(index: number, request: Uint8Array, url: URL, retry = 0): Promise<Conn | undefined> {
  return new Promise((resolve) => {
    const { localAddress, localPort } = sourceFor(index, retry);
    let head: Buffer | undefined;
    let done = false;
    const conn: Conn = {
      socket: undefined as unknown as Socket,
      reader: new FrameReader(),
      onBytes: (buf, n) => {
        // Usually the whole response head comes in one read: look at it in the shared buffer, copy only if split.
        const view = buf.subarray(0, n);
        const bytes = head ? Buffer.concat([head, view]) : view;
        const r = readUpgradeResponse(bytes);
        if (r.state === "incomplete") {
          head = Buffer.from(bytes);
          return;
        }
        if (r.state === "rejected") return finish(false, r.reason);
        // Until a mode takes over, frames are read and dropped (counted by the reader).
        conn.onBytes = (b, m) => conn.reader.push(b, m);
        if (bytes.length > r.headLength) conn.reader.push(bytes.subarray(r.headLength));
        finish(true);
      },
    };
    const socket = connect({
      host: url.hostname,
      port: Number(url.port || 80),
      localAddress,
      localPort,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          conn.onBytes(buf as Buffer, n);
          return true;
        },
      },
    });
    conn.socket = socket;
    const finish = (ok: boolean, why?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) resolve(conn);
      else {
        lastError ??= why;
        socket.destroy();
        resolve(undefined);
      }
    };
    const timer = setTimeout(() => finish(false, "handshake timeout"), plan.connectTimeoutMs);
    socket.on("connect", () => writerFor(socket)(request));
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE" && !done && retry < 3) {
        // The chosen port is taken by someone else's listener on all addresses: let the kernel pick one.
        done = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(open(index, request, url, retry + 1));
        return;
      }
      errors++;
      lastError ??= String(e.message);
      finish(false, e.message);
    });
    socket.on("close", () => {
      if (done && !stopped) closedByServer++;
      finish(false, "closed during handshake");
    });
  });
}

/** Opens this worker's connections, `connectInFlight` handshakes at a time. */
async function openAll(): Promise<{ opened: number; failed: number; elapsedMs: number; cpuPercent: number }> {
  const urls = [plan.url, ...(plan.moreUrls ?? [])].map((u) => new URL(u));
  const requests = urls.map((u) => buildUpgradeRequest(u));
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  let failed = 0;
  const lane = async () => {
    while (next < plan.connections) {
      const i = next++;
      // The publisher (this worker's last connection when it owns it) is always on the first URL.
      const u = plan.publisher && i === plan.connections - 1 ? 0 : (plan.firstIndex + i) % urls.length;
      const conn = await open(plan.firstIndex + i, requests[u]!, urls[u]!);
      if (conn) {
        conns.push(conn);
        if (plan.publisher && i === plan.connections - 1) publisherConn = conn;
      } else failed++;
    }
  };
  const lanes = Math.max(1, Math.min(plan.connectInFlight, plan.connections));
  await Promise.all(Array.from({ length: lanes }, lane));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return { opened: conns.length, failed, elapsedMs, cpuPercent: (cpu.user + cpu.system) / 10 / elapsedMs };
}

/** Echo: every connection keeps `inFlight` messages going; each reply is timed and answered with the next message. */
function runEcho(): void {
  const k = plan.inFlight;
  const frame = buildClientFrame(makePayload(plan.size), plan.binary ? OP_BINARY : OP_TEXT, DEFAULT_MASK);
  const all = repeatFrame(frame, k);
  // One Buffer view per count, so that `m` replies are answered by one write of the same bytes.
  const views = Array.from({ length: k + 1 }, (_, m) => Buffer.from(all.buffer, all.byteOffset, m * frame.length));
  const now0 = performance.now();
  for (const conn of conns) {
    const ring = new Float64Array(k).fill(now0);
    let pos = 0;
    const { reader } = conn;
    const write = writerFor(conn.socket);
    conn.onBytes = (chunk, end) => {
      const m = reader.push(chunk, end);
      if (m === 0) return;
      const now = performance.now();
      if (measuring) {
        messages += m;
        for (let j = 0; j < m; j++) {
          const us = (now - ring[pos]!) * 1000;
          histogram.recordValue(Math.max(us, 1));
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
      write(views[n]!);
    };
    write(views[k]!);
    sent += k;
  }
}

/** Broadcast: subscribers time every delivered message from the timestamp in its first 8 bytes. */
function runBroadcast(publisher: Conn | undefined): void {
  let chunkNs = 0;
  for (const conn of conns) {
    if (conn === publisher) continue;
    const reader = new FrameReader(8, (view) => {
      if (!measuring) return;
      messages++;
      const us = (chunkNs - view.getFloat64(0)) / 1000;
      histogram.recordValue(Math.max(us, 1));
    });
    conn.reader = reader;
    conn.onBytes = (chunk, end) => {
      chunkNs = nowNs();
      reader.push(chunk, end);
    };
  }
  if (!publisher) return;
  // The publisher gets its own copy back (the server sends to everyone on /broadcast); each copy frees a slot.
  const size = Math.max(8, plan.size);
  const template = buildClientFrame(makePayload(size), OP_BINARY, DEFAULT_MASK);
  const at = template.length - size;
  const stamp = new Uint8Array(8);
  const stampView = new DataView(stamp.buffer);
  const write = writerFor(publisher.socket);
  const publish = () => {
    const frame = Buffer.allocUnsafe(template.length);
    frame.set(template);
    stampView.setFloat64(0, nowNs());
    for (let i = 0; i < 8; i++) frame[at + i] = stamp[i]! ^ DEFAULT_MASK[i & 3]!;
    write(frame);
    if (measuring) published++;
    sent++;
  };
  publisher.onBytes = (chunk, end) => {
    const m = publisher.reader.push(chunk, end);
    if (stopped) return;
    for (let j = 0; j < m; j++) publish();
  };
  for (let j = 0; j < plan.inFlight; j++) publish();
}

async function main(): Promise<void> {
  process.on("message", async (msg: ToWorker) => {
    switch (msg.type) {
      case "plan":
        plan = msg.plan;
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
          histogram = newLatencyHistogram();
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
              histogram: encodeHistogram(histogram),
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
        for (const c of conns) c.socket.resetAndDestroy();
        process.disconnect?.();
        setTimeout(() => process.exit(0), 50).unref();
        break;
    }
  });
  process.on("disconnect", () => process.exit(0));
}

void main();
