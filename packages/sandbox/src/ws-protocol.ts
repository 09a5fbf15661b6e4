/**
 * Messages between a {@link WebsocketScriptHost} and its worker. Events and
 * operations travel in batches: one postMessage carries everything queued in
 * one tick, as one JSON string (cloning a string is a copy; cloning nested
 * arrays costs per element) whose binary payloads are placeholders
 * `{"$b": i}` for ArrayBuffers in `bins`, which travel in the transfer list.
 * @module
 */
import type { Limits } from "./quickjs.ts";

/** Host → worker events. */
export type HostEvent =
  | ["c", number, string] // connect: id, client info JSON
  | ["m", number, string | { $b: number }] // message
  | ["d", number, number, string] // disconnect: code, reason
  | ["r", number, string, number] // plain HTTP request: client info JSON, request id
  | ["l", number, number] // lag in ms
  | ["e", string, string]; // site event: name, JSON

/** Worker → host operations. */
export type WorkerOp =
  | ["s", number, string | { $b: number }] // send
  | ["x", number, number, string] // close
  | ["b", string | { $b: number }, number] // broadcast, except id (-1: none)
  | ["log", string, string] // level, message
  | ["rr", number, string | null, string | null] // request reply: redirect, body
  | ["sub", string]
  | ["unsub", string]
  | ["emit", string, string]
  | ["st", string, string | null];

export type ToWorker =
  | {
      t: "init";
      file: string;
      source: string;
      limits: Limits;
      storage: [string, string][];
      /** Origins the script may fetch from (no `fetch` global without it). */
      fetch?: { allow: string[]; maxBytes?: number; timeoutMs?: number };
    }
  | {
      t: "batch";
      seq: number;
      /** JSON of HostEvent[] (may be "[]"). */
      ev: string;
      bins: ArrayBuffer[];
      /** Storage changed elsewhere: key, JSON or null for a deletion. */
      st: [string, string | null][];
    };

export type FromWorker =
  | { t: "ready" }
  | { t: "out"; ack: number /** JSON of WorkerOp[]. */; ops: string; bins: ArrayBuffer[] }
  | {
      t: "fatal";
      kind: "budget" | "memory" | "script";
      message: string;
      file?: string;
      line?: number;
      column?: number;
      stack?: string;
    };

/** Client information handed to `onConnect` / `onRequest`. */
export interface ClientInfo {
  /** The host's id for this client (unique among the script's clients). */
  id: number;
  url?: string;
  path?: string;
  query?: Record<string, string | string[]>;
  /** Header names in lower case. */
  headers?: Record<string, string>;
  remoteAddress?: string;
}
