/**
 * @module @wirehouse/handshake/sha1-node
 *
 * SHA-1 from `node:crypto` (present in Node, Deno and Bun) for the
 * handshake's Sec-WebSocket-Accept value.
 */
import { createHash } from "node:crypto";
import type { Sha1 } from "../sha1.ts";

export type { Sha1 } from "../sha1.ts";

/** SHA-1 through node:crypto. */
export const sha1: Sha1 = (data: Uint8Array): Uint8Array => createHash("sha1").update(data).digest();
