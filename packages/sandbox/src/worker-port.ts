/**
 * The one place that knows how each runtime makes threads: Deno and Bun have
 * the web `Worker`; Node has `node:worker_threads`. Both sides get the same
 * small interface (post with a transfer list, receive, terminate).
 * @module
 */

/** The host's handle on a worker thread. */
export interface WorkerHandle {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  terminate(): void;
}

/** The worker's handle on its parent. */
export interface ParentPort {
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (message: unknown) => void): void;
}

const g = globalThis as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } } };
/** Node proper (Deno and Bun also define `process.versions.node`). */
const isNode = g.Deno === undefined && g.Bun === undefined && g.process?.versions?.node !== undefined;

/**
 * The URL of the worker entry `name` next to this module: `name.ts` when
 * running from the TypeScript sources, `name.js` in the built package
 * (tsup builds each worker entry beside index.js).
 */
export function workerUrl(name: string): URL {
  return new URL(import.meta.url.endsWith(".ts") ? `./${name}.ts` : `./${name}.js`, import.meta.url);
}

/** Starts a module worker from `url`; `onMessage` and `onError` receive what it reports. */
export async function startWorker(
  url: URL,
  onMessage: (message: unknown) => void,
  onError: (error: unknown) => void,
): Promise<WorkerHandle> {
  if (isNode) {
    const { Worker } = await import("node:worker_threads");
    // Running from TypeScript sources (tests under tsx): Node 20 does not pass
    // the parent's --import hooks to workers, so the worker registers tsx first.
    const w = url.pathname.endsWith(".ts")
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`,
          { eval: true },
        )
      : new Worker(url);
    w.on("message", onMessage);
    w.on("error", onError);
    return { post: (m, t) => w.postMessage(m, t ?? []), terminate: () => void w.terminate() };
  }
  const W = (globalThis as unknown as { Worker: typeof Worker }).Worker;
  const w = new W(url, { type: "module" });
  w.onmessage = (e: MessageEvent) => onMessage(e.data);
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault?.();
    onError(e.error ?? new Error(e.message));
  };
  return { post: (m, t) => w.postMessage(m, t ?? []), terminate: () => w.terminate() };
}

/** Inside a worker: the channel to the thread that started it. */
export async function parentPort(): Promise<ParentPort> {
  if (isNode) {
    const { parentPort: port } = await import("node:worker_threads");
    if (!port) throw new Error("not running in a worker thread");
    return {
      post: (m, t) => port.postMessage(m, t ?? []),
      onMessage: (l) => void port.on("message", l),
    };
  }
  const self = globalThis as unknown as {
    postMessage(m: unknown, t: ArrayBuffer[]): void;
    onmessage: ((e: MessageEvent) => void) | null;
  };
  return {
    post: (m, t) => self.postMessage(m, t ?? []),
    onMessage: (l) => {
      self.onmessage = (e) => l(e.data);
    },
  };
}
