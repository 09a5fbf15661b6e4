/**
 * The fuzz engine for the adapter's two wire formats: the Redis envelope (`decodeEnvelope`) and the
 * in-host relay's length-prefixed frames (`FrameReader`, `decodePub`). Each case starts from valid
 * bytes made by the encoders, mutates them (flipped bits, random bytes, cuts, splices, length
 * prefixes rewritten) and checks what must hold for any input:
 *
 * - nothing throws;
 * - `decodeEnvelope` gives null or an envelope whose parts fit the bytes (id 1..255 bytes, payload
 *   the rest); unmutated, it gives back exactly what was encoded;
 * - `FrameReader` delivers the same frames, and refuses at the same point, however the stream is
 *   split; each frame it delivers is as long as its prefix says, within the size limit;
 * - `decodePub` gives null or a topic and payload that fit the frame.
 *
 * Used by `fuzz.ts` (a time-bounded campaign) and by the tests (a short fixed-seed run).
 */
import { runCases } from "../../../scripts/fuzz-kit.ts";
import { decodeEnvelope, encodeEnvelope, encodeInstanceId, HEADER_SIZE } from "../src/envelope.ts";
import { decodePub, encodePub, FrameReader } from "../src/socket-relay.ts";

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);

function bytes(r: Rand, max: number): Uint8Array {
  const out = new Uint8Array(int(r, max + 1));
  for (let i = 0; i < out.length; i++) out[i] = int(r, 256);
  return out;
}

function text(r: Rand, max: number): string {
  const parts = ["a", "z", "0", "/", ":", "é", "€", "😀", " ", "room"];
  let s = "";
  const n = int(r, max + 1);
  for (let i = 0; i < n; i++) s += parts[int(r, parts.length)];
  return s;
}

/** Changes `input` in one of several ways (a fresh array; the input is left alone). */
export function mutate(r: Rand, input: Uint8Array): Uint8Array {
  const b = input.slice();
  switch (int(r, 6)) {
    case 0: // flip a few bits
      for (let k = 1 + int(r, 4); k > 0 && b.length > 0; k--) b[int(r, b.length)]! ^= 1 << int(r, 8);
      return b;
    case 1: // random bytes somewhere
      for (let k = 1 + int(r, 8); k > 0 && b.length > 0; k--) b[int(r, b.length)] = int(r, 256);
      return b;
    case 2: // cut the end
      return b.subarray(0, int(r, b.length + 1));
    case 3: {
      // splice random bytes in
      const at = int(r, b.length + 1);
      const extra = bytes(r, 16);
      const out = new Uint8Array(b.length + extra.length);
      out.set(b.subarray(0, at));
      out.set(extra, at);
      out.set(b.subarray(at), at + extra.length);
      return out;
    }
    case 4: // a length prefix or header byte set to an edge value
      if (b.length > 0) b[int(r, Math.min(b.length, 16))] = [0, 1, 0x7f, 0x80, 0xff][int(r, 5)]!;
      return b;
    default: // all random
      return bytes(r, 64);
  }
}

export interface FuzzFailure {
  seed: number;
  index: number;
  what: string;
  input: number[];
}

/** Splits `stream` at random points (1..n pieces). */
function split(r: Rand, stream: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = 0;
  while (at < stream.length) {
    const n = 1 + int(r, Math.min(stream.length - at, 1 + int(r, 40)));
    pieces.push(stream.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

/** Frames (copied) and whether the reader refused, pushing `pieces` in order until a refusal. */
function readAll(pieces: Uint8Array[], maxFrame: number): { frames: string[]; refused: boolean } {
  const reader = new FrameReader(maxFrame);
  const frames: string[] = [];
  for (const p of pieces) {
    const ok = reader.push(p, (f) => {
      const len = ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) >>> 0;
      if (f.length !== 4 + len || len === 0 || len > maxFrame)
        throw new Error(`frame of ${f.length} B for prefix ${len}`);
      frames.push(Array.from(f).join(","));
      const pub = decodePub(f);
      if (pub !== null && pub.payload.length > f.length - 8)
        throw new Error("decodePub: payload longer than the frame");
    });
    if (!ok) return { frames, refused: true };
  }
  return { frames, refused: false };
}

interface Expected {
  id: string;
  epoch: number;
  seq: number;
  binary: boolean;
  compress: boolean;
  payload: Uint8Array;
}

/** Why `decodeEnvelope(input)` is wrong, or null. `expected`: what `input` encodes when it was not mutated. */
function checkEnvelope(input: Uint8Array, expected: Expected | null): string | null {
  const e = decodeEnvelope(input);
  if (e === null) return expected ? "a valid envelope decoded to null" : null;
  const idLen = input[2]!;
  if (input[0] !== 1 || idLen === 0 || HEADER_SIZE + idLen + e.payload.length !== input.length)
    return "an envelope whose parts do not add up to its bytes";
  if (expected) {
    if (
      e.instanceId !== expected.id ||
      e.epoch !== expected.epoch ||
      e.seq !== expected.seq ||
      e.binary !== expected.binary ||
      e.compress !== expected.compress ||
      Array.from(e.payload).join(",") !== Array.from(expected.payload).join(",")
    )
      return "a valid envelope decoded to other fields";
  }
  return null;
}

/** Runs cases until `deadline` (ms since epoch) or `maxCases`; returns the count and the first failure. */
export function runFuzz(
  seed: number,
  deadline: number,
  maxCases = Number.POSITIVE_INFINITY,
): { cases: number; failure: FuzzFailure | null } {
  return runCases(seed, deadline, maxCases, 64, (r, index): FuzzFailure | null => {
    let input: Uint8Array = new Uint8Array(0);
    try {
      const mutated = r() < 0.85;
      if (r() < 0.5) {
        const expected = {
          id: text(r, 12) || "i",
          epoch: int(r, 2 ** 32),
          seq: 1 + int(r, Number.MAX_SAFE_INTEGER),
          binary: r() < 0.5,
          compress: r() < 0.5,
          payload: bytes(r, 80),
        };
        const valid = encodeEnvelope(
          encodeInstanceId(expected.id),
          expected.epoch,
          expected.seq,
          expected.binary,
          expected.payload,
          expected.compress,
        );
        input = mutated ? mutate(r, valid) : valid;
        const why = checkEnvelope(input, mutated ? null : expected);
        if (why) return { seed, index, what: why, input: Array.from(input) };
      } else {
        const frames: Uint8Array[] = [];
        for (let k = int(r, 5); k >= 0; k--) frames.push(encodePub(text(r, 8), bytes(r, 60), r() < 0.5, r() < 0.5));
        const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const f of frames) {
          stream.set(f, at);
          at += f.length;
        }
        input = mutated ? mutate(r, stream) : stream;
        const maxFrame = r() < 0.3 ? 64 : 1 << 20;
        const whole = readAll([input], maxFrame);
        const pieces = readAll(split(r, input), maxFrame);
        if (whole.refused !== pieces.refused || whole.frames.join("|") !== pieces.frames.join("|"))
          return { seed, index, what: "the frames depend on how the stream was split", input: Array.from(input) };
        if (!mutated && maxFrame > 64 && (whole.refused || whole.frames.length !== frames.length))
          return { seed, index, what: "a valid stream was not read back whole", input: Array.from(input) };
      }
    } catch (e) {
      return { seed, index, what: `threw: ${(e as Error).message}`, input: Array.from(input) };
    }
    return null;
  });
}
