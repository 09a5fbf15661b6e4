/**
 * @module @wirehouse/handshake/sha1-node
 *
 * SHA-1 from `node:crypto` (present in Node, Deno and Bun) for the
 * handshake's Sec-WebSocket-Accept value.
 */
import * as crypto from "node:crypto";
import type { Sha1 } from "../sha1.ts";

export type { Sha1 } from "../sha1.ts";

type OneShot = (algorithm: string, data: Uint8Array, outputEncoding: "buffer") => Uint8Array;
/** `crypto.hash` (Node 20.12+, Deno, Bun): no Hash object per call, about half the cost of createHash. */
const oneShot = (crypto as { hash?: OneShot }).hash;

/** SHA-1 through node:crypto: the one-shot `crypto.hash` where present, else `createHash`. */
export const sha1: Sha1 =
  typeof oneShot === "function"
    ? (data: Uint8Array): Uint8Array => oneShot("sha1", data, "buffer")
    : (data: Uint8Array): Uint8Array => crypto.createHash("sha1").update(data).digest();
