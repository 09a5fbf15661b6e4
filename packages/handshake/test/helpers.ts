import assert from "node:assert/strict";
import { HttpError } from "../src/errors.ts";
import { type HeadResult, RequestParser } from "../src/head-parser.ts";
import type { RequestHead } from "../src/request-head.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);
/** One byte per code unit (for heads with obs-text). */
export const latin1Bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
export const latin1Text = (b: Uint8Array): string => String.fromCharCode(...b);

/** Parses a complete request, asserting it parsed, and returns the head. */
export function head(s: string): RequestHead {
  const r = new RequestParser().push(bytes(s));
  if (r.kind !== "head") assert.fail("expected a head, got " + (r.kind === "error" ? r.error.code : r.kind));
  return r.head;
}

/** Parses `s`, asserting it fails with `code` and `status`. */
export function rejects(s: string | Uint8Array, code: string, status: number, parser = new RequestParser()): HttpError {
  const r: HeadResult<RequestHead> = parser.push(typeof s === "string" ? bytes(s) : s);
  if (r.kind !== "error") assert.fail(`expected ${code}, got ${r.kind}`);
  assert.ok(r.error instanceof HttpError);
  assert.equal(r.error.code, code);
  assert.equal(r.error.status, status);
  return r.error;
}
