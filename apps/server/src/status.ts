/**
 * What the app reports about itself: the banner's runtime name, and the JSON
 * of the status endpoint (settings `status`, `--status PATH`): connections,
 * websocket-script clients here and across instances (the Redis adapter's
 * presence), and the pub/sub adapter's state and counters (publishes dropped
 * while disconnected, reconnects, …).
 */
import process from "node:process";

export const VERSION = "0.1.0";

/** One websocket script's topic. */
export interface TopicStatus {
  topic: string;
  site: string;
  path: string;
  /** This process's clients of the script. */
  clients: number;
  /**
   * Clients across every instance: Redis presence (live instances' counts summed), or the
   * `--workers` in-host relay's count over the connected workers. Null in a single process,
   * or while Redis / the relay does not answer.
   */
  total: number | null;
  /** Instances (processes) with clients; null as for `total`. */
  instances: number | null;
}

export interface AppStatus {
  wirehouse: string;
  runtime: string;
  pid: number;
  /** The `--workers` index of this process, or null. */
  worker: number | null;
  uptimeMs: number;
  /** Open TCP connections (HTTP and WebSocket) and WebSockets of this process. */
  connections: number;
  websockets: number;
  pubsub: {
    /** "in-process" (one process), "relay" (the `--workers` in-host relay) or "redis". */
    kind: "in-process" | "relay" | "redis";
    connected: boolean;
    /** The Redis URL, password hidden. */
    url?: string;
    instanceId?: string;
    /**
     * The adapter's counters. Redis: published, received, droppedWhileDisconnected,
     * droppedOverflow, failed, pending, discarded, reconnects. Relay: published,
     * received, droppedWhileDisconnected, droppedOverflow, reconnects.
     */
    stats?: Record<string, number>;
    /** Why `total` is null (e.g. Redis unreachable). */
    error?: string;
  };
  topics: TopicStatus[];
}

export function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  return `Node ${process.versions.node}`;
}

/** The URL without its password (for logs and the status). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/** Whether `address` (as the server reports it) is in `allow` (IPv4-mapped IPv6 compared as IPv4). */
export function addressAllowed(address: string, allow: readonly string[]): boolean {
  const a = address.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
  return allow.some((x) => x.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1") === a);
}

/** Resolves with `p`, or rejects after `ms` (a status must answer even when Redis does not). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
