/**
 * Messages between a {@link PageThread} and its worker (`page-worker.ts`).
 * Renders travel in batches, one message for all the renders asked for in
 * one turn of the host's event loop, and their answers come back the same
 * way: each message is one JSON string (cloning a string is one copy; cloning
 * nested objects costs per property) with the bodies in the transfer list.
 * Under load this keeps the messages, and the thread switches they cause,
 * far fewer than the requests. What a page does besides its answer (log
 * lines, storage writes, emitted events) comes back as {@link PageOp}s, in
 * the order the page did it, before the answer they belong to.
 * @module
 */
import type { Intrinsics } from "quickjs-emscripten";
import type { LogEntry, PageRequest } from "./page.ts";
import type { Limits } from "./quickjs.ts";

/** Something a page did that the host applies: a log line, a storage write (null: deletion), an event. */
export type PageOp =
  | ["log", LogEntry["level"], string, string] // level, message, file
  | ["st", string, string | null] // key, JSON or null
  | ["emit", string, string]; // name, JSON

/** A render's failure, rebuilt as the same typed error on the host. */
export interface SerializedError {
  kind: "notfound" | "script" | "budget" | "memory" | "other";
  /** The error's message (for "script": without the `errorName: ` prefix). */
  message: string;
  /** The script's error name (for "script"). */
  errorName?: string;
  file?: string;
  line?: number;
  column?: number;
  stack?: string;
}

export type ToPageWorker =
  | {
      t: "init";
      /** The site's file folder (DirectoryFiles in the worker). */
      root: string;
      limits: Limits;
      /** Seed of the storage replica (JSON values); null: no shared storage (a store per request). */
      storage: [string, string][] | null;
      /** Largest total size of the store in bytes, as the host's store enforces it. */
      storageMaxBytes?: number;
      fetch?: { allow: string[]; maxBytes?: number; timeoutMs?: number };
      intrinsics?: Intrinsics;
      revalidateMs?: number;
      asyncTimeoutMs?: number;
      bytecode?: boolean;
      /**
       * One Int32: the id of the last render the worker started. After a
       * watchdog kill the host sends renders above it to the next worker.
       */
      started: SharedArrayBuffer;
    }
  /** JSON of {@link RenderItem}[]. */
  | { t: "renders"; json: string }
  /** Storage changed elsewhere (scripts, another process): key, JSON or null. */
  | { t: "st"; changes: [string, string | null][] }
  | { t: "invalidate"; path?: string }
  /** Liveness check while renders are in flight; answered with "pong". */
  | { t: "ping" };

export type FromPageWorker =
  | { t: "ready"; bytecode: boolean }
  /** QuickJS did not load: renders fail with this message. */
  | { t: "failed"; message: string }
  /** JSON of {@link DoneItem}[]; `bodies` holds the body of each answered item, in order. */
  | { t: "done"; json: string; bodies: ArrayBuffer[] }
  | { t: "pong" };

/** One render asked for: id, site path, request. */
export type RenderItem = [number, string, PageRequest];

/**
 * One render finished: id, the operations before it, then status and
 * headers (its body is the next of `bodies`) or the error. Id 0 carries
 * only operations (of pages still waiting for their promises).
 */
export type DoneItem = [number, PageOp[], number | null, [string, string][] | null, SerializedError | null];
