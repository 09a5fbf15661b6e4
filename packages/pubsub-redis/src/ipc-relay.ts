/**
 * An in-host relay for several server processes on one machine without Redis:
 * each worker uses `createIpcPubSub()` (over its parent's IPC channel), the parent
 * runs `createIpcRelay()` and adds every forked worker. The parent forwards each
 * publish to the other workers that subscribe to the topic, in the order received,
 * never back to its sender.
 *
 * Fork the workers with `serialization: "advanced"` so `Uint8Array` payloads cross
 * as bytes (structured clone; Node, Deno and Bun support it).
 */
import type { PubSubAdapter } from "./types.ts";

/** The part of a ChildProcess (parent side) or of `process` (child side) used here. */
export interface IpcChannel {
  send(message: unknown): unknown;
  on(event: "message", listener: (message: unknown) => void): unknown;
  off(event: "message", listener: (message: unknown) => void): unknown;
}

type Msg =
  | { wh: "pub"; topic: string; data: Uint8Array; binary: boolean; compress?: boolean }
  | { wh: "sub" | "unsub"; topic: string };

function isMsg(m: unknown): m is Msg {
  return typeof m === "object" && m !== null && typeof (m as { wh?: unknown }).wh === "string";
}

const encoder = new TextEncoder();

export interface IpcPubSubOptions {
  /** Default: `process` (this process must have been forked with an IPC channel). */
  channel?: IpcChannel;
  /** Same as the Redis adapter's option: also hand own publishes to `onMessage`. */
  localEcho?: boolean;
}

export interface IpcPubSub extends PubSubAdapter {
  readonly stats: { published: number; received: number };
}

/** The worker side. */
export function createIpcPubSub(options: IpcPubSubOptions = {}): IpcPubSub {
  const channel = options.channel ?? (typeof process.send === "function" ? (process as unknown as IpcChannel) : null);
  if (channel === null) throw new Error("createIpcPubSub: this process has no IPC channel (fork it with an ipc stdio)");
  const localEcho = options.localEcho ?? false;
  const topics = new Map<string, number>();
  const stats = { published: 0, received: 0 };
  let cb: ((topic: string, data: Uint8Array, binary: boolean, compress: boolean) => void) | null = null;
  let closed = false;
  const listener = (m: unknown) => {
    if (!isMsg(m) || m.wh !== "pub" || cb === null || !topics.has(m.topic)) return;
    stats.received++;
    cb(m.topic, m.data, m.binary, m.compress === true);
  };
  channel.on("message", listener);
  return {
    stats,
    localEcho,
    publish(topic, data, binary, compress = false) {
      if (closed) return;
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      if (localEcho && cb !== null && topics.has(topic)) cb(topic, bytes, binary, compress);
      stats.published++;
      channel.send({ wh: "pub", topic, data: bytes, binary, ...(compress ? { compress } : {}) } satisfies Msg);
    },
    onMessage(fn) {
      cb = fn;
    },
    subscribe(topic) {
      if (closed) return;
      const n = (topics.get(topic) ?? 0) + 1;
      topics.set(topic, n);
      if (n === 1) channel.send({ wh: "sub", topic } satisfies Msg);
    },
    unsubscribe(topic) {
      const n = topics.get(topic);
      if (n === undefined || closed) return;
      if (n > 1) topics.set(topic, n - 1);
      else {
        topics.delete(topic);
        channel.send({ wh: "unsub", topic } satisfies Msg);
      }
    },
    async close() {
      closed = true;
      cb = null;
      channel.off("message", listener);
      for (const topic of topics.keys()) channel.send({ wh: "unsub", topic } satisfies Msg);
      topics.clear();
    },
  };
}

export interface IpcRelay {
  /** Starts relaying for a worker (a forked ChildProcess). */
  add(worker: IpcChannel): void;
  /** Stops relaying for it (call on its "exit"). */
  remove(worker: IpcChannel): void;
  /** Subscribing workers per topic (the in-host presence count of instances). */
  count(topic: string): number;
  readonly stats: { relayed: number };
}

/** The parent side. */
export function createIpcRelay(): IpcRelay {
  const workers = new Map<IpcChannel, { topics: Set<string>; listener: (m: unknown) => void }>();
  const stats = { relayed: 0 };
  const relay: IpcRelay = {
    stats,
    add(worker) {
      if (workers.has(worker)) return;
      const topics = new Set<string>();
      const listener = (m: unknown) => {
        if (!isMsg(m)) return;
        if (m.wh === "sub") topics.add(m.topic);
        else if (m.wh === "unsub") topics.delete(m.topic);
        else
          for (const [other, w] of workers)
            if (other !== worker && w.topics.has(m.topic)) {
              stats.relayed++;
              other.send(m);
            }
      };
      worker.on("message", listener);
      workers.set(worker, { topics, listener });
    },
    remove(worker) {
      const w = workers.get(worker);
      if (w === undefined) return;
      worker.off("message", w.listener);
      workers.delete(worker);
    },
    count(topic) {
      let n = 0;
      for (const w of workers.values()) if (w.topics.has(topic)) n++;
      return n;
    },
  };
  return relay;
}
