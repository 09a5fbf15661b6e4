/**
 * The fuzz campaign's core, shared by the CLI (fuzz.ts) and the tests: generates valid frame
 * streams, mutates them, and checks the decoder's invariants on each case. Runtime-neutral.
 */

import { prng } from "../../../scripts/fuzz-kit.ts";
import {
  concatFrame,
  DecoderEvent,
  encodeCloseFrame,
  encodeFrameBytes,
  fragmentMessage,
  MessageDecoder,
  Opcode,
  type Role,
} from "../src/index.ts";

/** One fuzz input: the bytes as the chunks they arrive in, and the decoder's settings. */
export interface FuzzCase {
  role: Role;
  maxPayload: number;
  maxFragments: number;
  chunks: Uint8Array[];
}

/** Serialized form (committed under fuzz/corpus/, written under fuzz/failures/). */
export interface FuzzCaseJson {
  role: Role;
  maxPayload: number;
  maxFragments: number;
  chunks: string[];
  note?: string;
}

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((h) => Number.parseInt(h, 16)));

export function caseToJson(c: FuzzCase, note?: string): FuzzCaseJson {
  return { role: c.role, maxPayload: c.maxPayload, maxFragments: c.maxFragments, chunks: c.chunks.map(toHex), note };
}

export function caseFromJson(j: FuzzCaseJson): FuzzCase {
  return { role: j.role, maxPayload: j.maxPayload, maxFragments: j.maxFragments, chunks: j.chunks.map(fromHex) };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const te = new TextEncoder();
const TEXTS = ["", "a", "Hello", "κόσμε", "€𝄞", "ascii only text here", "\u0000\u007f\u0080\u07ff\u0800\uffff"];

function payloadFor(r: Rand, text: boolean): Uint8Array {
  if (text) {
    let s = "";
    const n = int(r, 6);
    for (let i = 0; i < n; i++) s += TEXTS[int(r, TEXTS.length)]!;
    if (r() < 0.05) s = s.repeat(200);
    return te.encode(s);
  }
  const sizes = [0, 1, 3, 4, 5, 125, 126, 127, 200, 1000, 65535, 65536, 70000];
  const n = r() < 0.8 ? int(r, 40) : sizes[int(r, sizes.length)]!;
  const out = new Uint8Array(n);
  for (let i = 0; i < Math.min(n, 64); i++) out[i] = int(r, 256);
  return out;
}

/** A valid stream of messages and control frames (masked when the decoder is a server). */
export function validStream(r: Rand, role: Role): Uint8Array {
  const mask = role === "server";
  const parts: Uint8Array[] = [];
  const n = 1 + int(r, 6);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.15) {
      const data = new Uint8Array(int(r, 126)).map(() => int(r, 256));
      parts.push(encodeFrameBytes(r() < 0.5 ? Opcode.Ping : Opcode.Pong, data, { mask }));
      continue;
    }
    const text = r() < 0.5;
    const payload = payloadFor(r, text);
    const frag = r() < 0.5 ? payload.length + 1 : 1 + int(r, 50);
    const frames = fragmentMessage(text ? Opcode.Text : Opcode.Binary, payload, frag, { mask }).map(concatFrame);
    for (let f = 0; f < frames.length; f++) {
      parts.push(frames[f]!);
      if (f + 1 < frames.length && r() < 0.2) parts.push(encodeFrameBytes(Opcode.Ping, te.encode("p"), { mask }));
    }
  }
  if (r() < 0.2)
    parts.push(
      encodeCloseFrame([1000, 1001, 1003, 1008, 1011, 3000, 4999][int(r, 7)], r() < 0.5 ? "bye" : "", { mask }),
    );
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const INTERESTING = [
  0x00, 0x01, 0x02, 0x08, 0x09, 0x0a, 0x0b, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x88, 0x89, 0xc1, 0xff,
];

/** Applies 1–4 random mutations. */
export function mutate(r: Rand, data: Uint8Array): Uint8Array {
  let d = data;
  const n = 1 + int(r, 4);
  for (let m = 0; m < n; m++) {
    const len = d.length;
    const at = len === 0 ? 0 : int(r, len);
    switch (int(r, 8)) {
      case 0:
        if (len) d[at] = d[at]! ^ (1 << int(r, 8));
        break;
      case 1:
        if (len) d[at] = int(r, 256);
        break;
      case 2:
        if (len) d[at] = INTERESTING[int(r, INTERESTING.length)]!;
        break;
      case 3: {
        const ins = new Uint8Array(1 + int(r, 16)).map(() => int(r, 256));
        const out = new Uint8Array(len + ins.length);
        out.set(d.subarray(0, at));
        out.set(ins, at);
        out.set(d.subarray(at), at + ins.length);
        d = out;
        break;
      }
      case 4: {
        const del = Math.min(len - at, 1 + int(r, 16));
        const out = new Uint8Array(len - del);
        out.set(d.subarray(0, at));
        out.set(d.subarray(at + del), at);
        d = out;
        break;
      }
      case 5: {
        const size = Math.min(len - at, 1 + int(r, 64));
        const out = new Uint8Array(len + size);
        out.set(d.subarray(0, at + size));
        out.set(d.subarray(at, at + size), at + size);
        out.set(d.subarray(at + size), at + 2 * size);
        d = out;
        break;
      }
      case 6:
        d = d.subarray(0, at);
        break;
      default: {
        const out = new Uint8Array(len);
        out.set(d.subarray(at));
        out.set(d.subarray(0, at), len - at);
        d = out;
      }
    }
  }
  return d;
}

/** Splits into chunks: one, bytewise, or random sizes. */
export function chunkRandomly(r: Rand, data: Uint8Array): Uint8Array[] {
  // Byte-at-a-time only for short inputs, so a campaign runs many cases per second.
  let mode = int(r, 4);
  if (mode === 1 && data.length > 3000) mode = 2;
  if (mode === 2 && data.length > 50_000) mode = 3;
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const n = mode === 0 ? data.length : mode === 1 ? 1 : mode === 2 ? 1 + int(r, 16) : 1 + int(r, 4096);
    out.push(data.slice(at, at + n));
    at += n;
  }
  return out;
}

export function randomCase(r: Rand): FuzzCase {
  const role: Role = r() < 0.5 ? "server" : "client";
  let data = validStream(r, role);
  if (r() < 0.85) data = mutate(r, data);
  if (r() < 0.05) data = new Uint8Array(int(r, 300)).map(() => int(r, 256));
  return {
    role,
    maxPayload: r() < 0.5 ? 64 * 1024 * 1024 : 16 + int(r, 4096),
    maxFragments: r() < 0.5 ? 16_384 : 1 + int(r, 64),
    chunks: chunkRandomly(r, data),
  };
}

const fatal = new TextDecoder("utf-8", { fatal: true });
const KNOWN = new Set<number>([0, 1, 2, 8, 9, 10, 255]);

type Trace = string[];

function decode(c: FuzzCase, chunks: Uint8Array[]): Trace {
  const d = new MessageDecoder({ role: c.role, maxPayload: c.maxPayload, maxFragments: c.maxFragments });
  const trace: Trace = [];
  let total = 0;
  for (const ch of chunks) total += ch.length;
  let events = 0;
  for (const ch of chunks) {
    d.push(ch);
    for (let ev = d.next(); ev !== DecoderEvent.None; ev = d.next()) {
      if (!KNOWN.has(ev)) throw new Error(`unknown event ${ev}`);
      if (++events > total) throw new Error("more events than input bytes: the decoder loops");
      if (ev === DecoderEvent.Error) {
        const code = d.error?.closeCode;
        if (code !== 1002 && code !== 1007 && code !== 1009) throw new Error(`unexpected close code ${code}`);
        trace.push(`error ${code}`);
      } else if (ev === DecoderEvent.Close) {
        trace.push(`close ${d.closeCode} ${d.closeReason}`);
      } else {
        if (d.data.length > c.maxPayload) throw new Error("payload over maxPayload");
        if (ev === DecoderEvent.Text) fatal.decode(d.data); // throws on invalid UTF-8
        trace.push(`${ev} ${d.data.length} ${d.data.subarray(0, 16).join(",")}`);
      }
    }
    const buf = (d as unknown as { msgBuf?: Uint8Array }).msgBuf;
    if ((buf?.length ?? 0) > c.maxPayload) throw new Error("message buffer over maxPayload");
    if (d.buffered > total) throw new Error("buffered more than was pushed");
  }
  if (trace.filter((t) => t.startsWith("error")).length > 1) throw new Error("more than one error event");
  return trace;
}

/**
 * Checks one case: decoding never throws, only known events, at most one error with a
 * code of 1002/1007/1009, no loop, bounded buffers, valid UTF-8 in every text message, and the
 * same events whatever the chunking (compared with the whole input in one chunk).
 * Returns undefined when all hold, else a description of the failure.
 */
export function checkCase(c: FuzzCase): string | undefined {
  try {
    // Decoding unmasks in place: give each run its own copy.
    const copy = (chunks: Uint8Array[]) => chunks.map((x) => x.slice());
    const chunked = decode(c, copy(c.chunks));
    let total = 0;
    for (const ch of c.chunks) total += ch.length;
    const whole = new Uint8Array(total);
    let at = 0;
    for (const ch of c.chunks) {
      whole.set(ch, at);
      at += ch.length;
    }
    const single = decode(c, [whole]);
    if (chunked.join("\n") !== single.join("\n")) {
      return `chunking changed the events:\n${chunked.join("\n")}\n---\n${single.join("\n")}`;
    }
    return undefined;
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
}

export interface FuzzResult {
  cases: number;
  failures: { case: FuzzCase; message: string }[];
}

/** Runs random cases for `seconds` from `seed`; stops at the first failure. */
export function runFuzz(seconds: number, seed: number): FuzzResult {
  const r = prng(seed);
  const deadline = Date.now() + seconds * 1000;
  let cases = 0;
  const failures: FuzzResult["failures"] = [];
  while (Date.now() < deadline) {
    for (let i = 0; i < 50; i++) {
      const c = randomCase(r);
      cases++;
      const message = checkCase(c);
      if (message !== undefined) {
        failures.push({ case: c, message });
        return { cases, failures };
      }
    }
  }
  return { cases, failures };
}
