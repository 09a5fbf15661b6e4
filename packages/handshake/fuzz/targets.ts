/**
 * Fuzz targets and mutators, shared by the fuzz command (fuzz.ts) and the
 * test that replays the committed corpus and runs a short campaign.
 *
 * The oracle: every parser must never throw; feeding an input whole or in
 * random pieces must give the same outcome; limits hold; whatever the
 * WebSocket handshake accepts must produce a 101 that the client-side
 * parser reads back.
 */

import { prng } from "../../../scripts/fuzz-kit.ts";
import { BodyDecoder } from "../src/body.ts";
import { HttpError } from "../src/errors.ts";
import { MultipartParser } from "../src/forms.ts";
import { type HeadResult, parseResponse, RequestParser, ResponseParser } from "../src/head-parser.ts";
import { perMessageDeflate } from "../src/permessage-deflate.ts";
import type { RequestHead } from "../src/request-head.ts";
import { acceptWebSocket, negotiateWebSocket } from "../src/websocket-server.ts";
import { browsers, get12 } from "../test/fixtures/browsers.ts";

const enc = new TextEncoder();

export const SEEDS: Uint8Array[] = [
  ...browsers.map((b) => b.raw),
  get12,
  "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
  "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n",
  "GET http://example.org/p?q=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n--b\r\nContent-Disposition: form-data; name="f"; filename="x"\r\nContent-Type: text/plain\r\n\r\nfile\r\n--b--\r\n',
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
].map((s) => enc.encode(s));

const TOKENS = [
  "\r\n",
  "\r\n\r\n",
  "\n",
  "\r",
  " ",
  "\t",
  ":",
  ",",
  ";",
  "=",
  '"',
  "Transfer-Encoding: chunked\r\n",
  "Content-Length: 5\r\n",
  "Content-Length: +1\r\n",
  "Host: a\r\n",
  "Connection: close\r\n",
  "ffffffffffffffff",
  "0\r\n\r\n",
  "\r\n--b",
  "--",
  "HTTP/1.1",
  "%",
  "\0",
  "\xff",
].map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0)));

/** Applies 1–6 random edits to `input` (bytes, tokens, slices, splices with other seeds). */
export function mutate(input: Uint8Array, r: () => number, pool: readonly Uint8Array[] = SEEDS): Uint8Array {
  let a = Array.from(input);
  const edits = 1 + Math.floor(r() * 6);
  for (let e = 0; e < edits; e++) {
    const pos = Math.floor(r() * (a.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0:
        if (pos < a.length) a[pos] = Math.floor(r() * 256);
        break;
      case 1:
        if (pos < a.length) a[pos]! ^= 1 << Math.floor(r() * 8);
        break;
      case 2:
        a.splice(pos, 0, Math.floor(r() * 256));
        break;
      case 3:
        a.splice(pos, 1 + Math.floor(r() * 8));
        break;
      case 4:
      case 5:
        a.splice(pos, 0, ...TOKENS[Math.floor(r() * TOKENS.length)]!);
        break;
      case 6: {
        const len = Math.floor(r() * 32);
        const from = Math.floor(r() * Math.max(1, a.length - len));
        a.splice(pos, 0, ...a.slice(from, from + len));
        break;
      }
      default: {
        const other = pool[Math.floor(r() * pool.length)]!;
        const from = Math.floor(r() * other.length);
        a = a.slice(0, pos).concat(Array.from(other.subarray(from, from + 1 + Math.floor(r() * 64))));
      }
    }
  }
  return Uint8Array.from(a);
}

/** Random cut points for feeding `n` bytes in pieces. */
function cuts(n: number, r: () => number): number[] {
  const out: number[] = [];
  const pieces = Math.floor(r() * 8);
  for (let i = 0; i < pieces; i++) out.push(Math.floor(r() * (n + 1)));
  out.push(n);
  return [...new Set(out)].sort((a, b) => a - b);
}

const LIMITS = { maxHeadSize: 4096, maxRequestLineSize: 1024, maxHeaders: 40 };
const BODY_LIMITS = { maxBodySize: 1 << 16, maxTrailerSize: 512 };

function describeHead(h: RequestHead): string {
  return JSON.stringify([
    h.method,
    h.target,
    h.version,
    h.headers.rawNames,
    h.headers.values,
    h.bodyKind,
    h.contentLength,
    h.keepAlive,
    h.host,
  ]);
}

/** Drives a connection like a server: heads, bodies, pipelining. Returns the outcome log. */
function serve(input: Uint8Array, points: number[]): string[] {
  const log: string[] = [];
  const parser = new RequestParser(LIMITS);
  let body: BodyDecoder | undefined;
  let bodyBytes = 0;
  let start = 0;
  let failed = false;
  for (const end of points) {
    let chunk = input.subarray(start, end);
    start = end;
    while (chunk.length > 0 && !failed) {
      if (body !== undefined) {
        const r = body.push(chunk);
        if (r.kind === "error") {
          log.push("body-error " + r.error.code);
          failed = true;
          break;
        }
        for (const c of r.chunks) bodyBytes += c.length;
        chunk = chunk.subarray(r.consumed);
        if (r.done) {
          log.push("body " + bodyBytes + " " + (body.trailers?.size ?? 0));
          body = undefined;
        } else if (r.consumed === 0) throw new Error("body decoder made no progress");
        continue;
      }
      const r: HeadResult<RequestHead> = parser.push(chunk);
      if (r.kind === "need-more") break;
      if (r.kind === "error") {
        if (!(r.error instanceof HttpError)) throw new Error("non-HttpError result");
        log.push("error " + r.error.code);
        failed = true;
        break;
      }
      if (r.consumed < 0 || r.consumed > chunk.length) throw new Error("consumed out of range");
      if (parser.buffered !== 0) throw new Error("parser kept a buffer after a head");
      log.push("head " + describeHead(r.head));
      checkUpgrade(r.head);
      chunk = chunk.subarray(r.consumed);
      if (r.head.bodyKind !== "none") {
        body = BodyDecoder.forRequest(r.head, BODY_LIMITS);
        bodyBytes = 0;
        if (body.error !== undefined) {
          log.push("body-error " + body.error.code);
          failed = true;
        }
      }
    }
    if (parser.buffered > LIMITS.maxHeadSize + 1) throw new Error("parser buffered past the head limit");
  }
  return log;
}

const negotiators = [perMessageDeflate({ clientMaxWindowBits: 12 })];

/** Whatever the handshake accepts must make a 101 the response parser reads back. */
function checkUpgrade(head: RequestHead): void {
  const u = negotiateWebSocket(head, { protocols: ["chat", "superchat"], extensions: negotiators });
  if (u instanceof HttpError) return;
  const response = parseResponse(acceptWebSocket(u));
  if (response.kind !== "head" || response.head.status !== 101) throw new Error("101 response did not parse back");
}

function multipart(input: Uint8Array, points: number[]): string[] {
  const p = new MultipartParser("b", { maxParts: 8, maxPartSize: 4096, maxPartHeaderSize: 512 });
  const log: string[] = [];
  let data = 0;
  let start = 0;
  for (const end of points) {
    const r = p.push(input.subarray(start, end));
    start = end;
    // Events found in the push that failed are not returned, so an error is the whole outcome.
    if (r.kind === "error") return ["error " + r.error.code];
    for (const e of r.events) {
      if (e.type === "data") data += e.data.length;
      else {
        if (e.type === "part-end") log.push("data " + data);
        data = 0;
        log.push(e.type === "part" ? "part " + e.part.name + "|" + e.part.filename : e.type);
      }
    }
  }
  const e = p.end();
  log.push(e === undefined ? "complete" : "end-error " + e.code);
  return log;
}

function response(input: Uint8Array, points: number[]): string {
  const p = new ResponseParser(LIMITS);
  let start = 0;
  for (const end of points) {
    const r = p.push(input.subarray(start, end));
    start = end;
    if (r.kind === "error") return "error " + r.error.code;
    if (r.kind === "head") return "head " + r.head.status + JSON.stringify(r.head.headers.values);
  }
  return "need-more";
}

function chunked(input: Uint8Array, points: number[]): string {
  const d = new BodyDecoder("chunked", -1, BODY_LIMITS);
  let n = 0;
  let start = 0;
  for (const end of points) {
    const r = d.push(input.subarray(start, end));
    if (r.kind === "error") return "error " + r.error.code;
    for (const c of r.chunks) n += c.length;
    if (r.done) return "done " + n + " at " + (start + r.consumed) + " trailers " + (d.trailers?.size ?? 0);
    if (r.consumed !== end - start) throw new Error("chunked decoder left bytes unconsumed before the end");
    start = end;
  }
  return "more " + n;
}

const same = (a: unknown, b: unknown, what: string) => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) throw new Error(what + ": whole and split feeding disagree\n  whole: " + x + "\n  split: " + y);
};

/** Runs every target on `input`, whole and split by `r`. Throws on any broken invariant. */
export function check(input: Uint8Array, r: () => number): void {
  const whole = [input.length];
  same(serve(input, whole), serve(input, cuts(input.length, r)), "request stream");
  same(multipart(input, whole), multipart(input, cuts(input.length, r)), "multipart");
  same(response(input, whole), response(input, cuts(input.length, r)), "response head");
  same(chunked(input, whole), chunked(input, cuts(input.length, r)), "chunked body");
}

/** A stable name for an input (FNV-1a, hex). */
export function inputName(input: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) h = Math.imul(h ^ input[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

export interface CampaignResult {
  iterations: number;
  failures: { input: Uint8Array; error: string }[];
}

/** Mutation campaign for `ms` milliseconds from `seed`. */
export function campaign(
  seed: number,
  ms: number,
  corpus: readonly Uint8Array[] = [],
  maxFailures = 10,
): CampaignResult {
  const r = prng(seed);
  const pool = [...SEEDS, ...corpus];
  const deadline = Date.now() + ms;
  const failures: CampaignResult["failures"] = [];
  let iterations = 0;
  while (Date.now() < deadline && failures.length < maxFailures) {
    for (let k = 0; k < 50; k++) {
      const base = pool[Math.floor(r() * pool.length)]!;
      const input = r() < 0.05 ? randomBytes(r) : mutate(base, r, pool);
      try {
        check(input, r);
      } catch (e) {
        failures.push({ input, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      }
      iterations++;
    }
  }
  return { iterations, failures };
}

function randomBytes(r: () => number): Uint8Array {
  const out = new Uint8Array(Math.floor(r() * 256));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  return out;
}
