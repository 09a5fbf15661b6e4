/**
 * Frame encoder (RFC 6455 §5.2): pure functions that build a frame header separately from
 * its payload, so a transport can write `[header, payload]` without copying the payload.
 * @module
 */
import { isValidCloseCode, type ProtocolError } from "./errors.ts";
import { maskCopy, maskRange, writeRandomMaskKey } from "./mask.ts";
import { isControlOpcode } from "./opcode.ts";

/** Everything a frame header says. */
export interface FrameHeaderOptions {
  opcode: number;
  /** Payload length in bytes. */
  length: number;
  /** Final fragment of a message (default true). */
  fin?: boolean;
  /** RSV1: set on the first frame of a permessage-deflate compressed message (RFC 7692 §6). */
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /**
   * Masking key: a 4-byte key to write into the header, `true` for a fresh random key
   * (crypto.getRandomValues), false/undefined for an unmasked (server) frame.
   */
  mask?: Uint8Array | boolean;
}

/** Options for {@link encodeFrame}. */
export interface EncodeOptions {
  fin?: boolean;
  rsv1?: boolean;
  /** Client role: `true` = random key, or a given 4-byte key. Server frames are unmasked. */
  mask?: Uint8Array | boolean;
  /**
   * When masking, XOR the caller's payload in place instead of a copy (saves one copy when
   * the caller no longer needs the bytes). Default false: the input is never modified.
   */
  maskInPlace?: boolean;
}

/** A frame as two buffers: write them in order (or join them with {@link concatFrame}). */
export type EncodedFrame = [header: Uint8Array, payload: Uint8Array];

const MAX_LENGTH = Number.MAX_SAFE_INTEGER;

/** Header size for a payload of `length` bytes: 2, 4 or 10 bytes, plus 4 with a mask. */
export function frameHeaderSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/** Byte 0 of a header: FIN, RSV1–3, opcode. */
function firstByte(opcode: number, fin: boolean | undefined, rsv1?: boolean, rsv2?: boolean, rsv3?: boolean): number {
  let b0 = opcode;
  if (fin !== false) b0 |= 0x80;
  if (rsv1) b0 |= 0x40;
  if (rsv2) b0 |= 0x20;
  if (rsv3) b0 |= 0x10;
  return b0;
}

function check(opcode: number, length: number, fin: boolean | undefined): void {
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15) throw new RangeError(`invalid opcode ${opcode}`);
  if (!Number.isInteger(length) || length < 0 || length > MAX_LENGTH) throw new RangeError(`invalid length ${length}`);
  if (opcode >= 8 && (length > 125 || fin === false)) {
    // RFC 6455 §5.5: control frames ≤ 125 bytes and never fragmented.
    throw new RangeError("control frames must have a payload of at most 125 bytes and fin set");
  }
}

/** Writes a header (validated by the caller); returns its size. The key, if any, is the last 4 bytes. */
function putHeader(
  target: Uint8Array,
  at: number,
  b0: number,
  length: number,
  mask: Uint8Array | boolean | undefined,
): number {
  const masked = mask !== undefined && mask !== false;
  const mbit = masked ? 0x80 : 0;
  target[at] = b0;
  let p: number;
  if (length < 126) {
    target[at + 1] = length | mbit;
    p = at + 2;
  } else if (length < 65536) {
    target[at + 1] = 126 | mbit;
    target[at + 2] = length >>> 8;
    target[at + 3] = length & 0xff;
    p = at + 4;
  } else {
    target[at + 1] = 127 | mbit;
    const hi = Math.floor(length / 0x1_0000_0000);
    const lo = length >>> 0;
    target[at + 2] = 0;
    target[at + 3] = 0;
    target[at + 4] = (hi >>> 8) & 0xff;
    target[at + 5] = hi & 0xff;
    target[at + 6] = lo >>> 24;
    target[at + 7] = (lo >>> 16) & 0xff;
    target[at + 8] = (lo >>> 8) & 0xff;
    target[at + 9] = lo & 0xff;
    p = at + 10;
  }
  if (masked) {
    if (mask === true) writeRandomMaskKey(target, p);
    else {
      if (mask.length !== 4) throw new RangeError("a masking key is 4 bytes");
      target[p] = mask[0]!;
      target[p + 1] = mask[1]!;
      target[p + 2] = mask[2]!;
      target[p + 3] = mask[3]!;
    }
    p += 4;
  }
  return p - at;
}

/**
 * Writes the header into `target` at `at` and returns its size. The masking key, if any,
 * occupies the last 4 bytes of the header.
 */
export function writeFrameHeader(target: Uint8Array, at: number, opts: FrameHeaderOptions): number {
  check(opts.opcode, opts.length, opts.fin);
  return putHeader(
    target,
    at,
    firstByte(opts.opcode, opts.fin, opts.rsv1, opts.rsv2, opts.rsv3),
    opts.length,
    opts.mask,
  );
}

/**
 * Small outputs come from 8 KiB slabs (bump allocation, never reused), like Node's buffer
 * pool: one cheap view instead of a zero-filled allocation per frame. A slab stays alive
 * while any frame cut from it does, so only frames up to SMALL bytes use it.
 */
const SLAB_SIZE = 8192;
const SMALL = 1024;
let slab = new ArrayBuffer(0);
let slabPos = SLAB_SIZE;

function alloc(n: number): Uint8Array {
  if (n > SMALL) return new Uint8Array(n);
  if (slabPos + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabPos = 0;
  }
  const out = new Uint8Array(slab, slabPos, n);
  slabPos = (slabPos + n + 7) & ~7;
  return out;
}

/** Copies `src` into `dst` at `at` XOR-ing with the key bytes (small payloads: one pass). */
function copyMasked(
  src: Uint8Array,
  dst: Uint8Array,
  at: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
): void {
  const n = src.length;
  if (n > 256) {
    maskCopy(src, dst, at, k0, k1, k2, k3);
    return;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    dst[at + i] = src[i]! ^ k0;
    dst[at + i + 1] = src[i + 1]! ^ k1;
    dst[at + i + 2] = src[i + 2]! ^ k2;
    dst[at + i + 3] = src[i + 3]! ^ k3;
  }
  if (i < n) dst[at + i] = src[i]! ^ k0;
  if (i + 1 < n) dst[at + i + 1] = src[i + 1]! ^ k1;
  if (i + 2 < n) dst[at + i + 2] = src[i + 2]! ^ k2;
}

/** Builds a frame header (2–14 bytes). */
export function encodeFrameHeader(opts: FrameHeaderOptions): Uint8Array {
  check(opts.opcode, opts.length, opts.fin);
  const masked = opts.mask !== undefined && opts.mask !== false;
  const header = alloc(frameHeaderSize(opts.length, masked));
  putHeader(header, 0, firstByte(opts.opcode, opts.fin, opts.rsv1, opts.rsv2, opts.rsv3), opts.length, opts.mask);
  return header;
}

/**
 * Encodes one frame as `[header, payload]`. Unmasked frames return the caller's payload
 * itself (no copy). Masked frames return a masked copy, or mask in place with `maskInPlace`.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, opts?: EncodeOptions): EncodedFrame {
  const fin = opts?.fin;
  const m = opts?.mask;
  const length = payload.length;
  check(opcode, length, fin);
  const b0 = firstByte(opcode, fin, opts?.rsv1);
  if (m === undefined || m === false) {
    const header = alloc(length < 126 ? 2 : length < 65536 ? 4 : 10);
    putHeader(header, 0, b0, length, undefined);
    return [header, payload];
  }
  const size = frameHeaderSize(length, true);
  if (opts?.maskInPlace) {
    const header = alloc(size);
    putHeader(header, 0, b0, length, m);
    maskRange(payload, 0, length, header[size - 4]!, header[size - 3]!, header[size - 2]!, header[size - 1]!, 0);
    return [header, payload];
  }
  const header = alloc(size);
  putHeader(header, 0, b0, length, m);
  const data = alloc(length);
  copyMasked(payload, data, 0, header[size - 4]!, header[size - 3]!, header[size - 2]!, header[size - 1]!);
  return [header, data];
}

/** Joins `[header, payload]` into one buffer (when a transport needs a single write). */
export function concatFrame(frame: readonly [Uint8Array, Uint8Array]): Uint8Array {
  const [header, payload] = frame;
  const out = alloc(header.length + payload.length);
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}

/**
 * Encodes a whole frame into one buffer (header and payload together), the cheapest form
 * for small frames and for broadcast (encode once, write the same bytes to everyone).
 */
export function encodeFrameBytes(opcode: number, payload: Uint8Array, opts?: EncodeOptions): Uint8Array {
  const fin = opts?.fin;
  const m = opts?.mask;
  const length = payload.length;
  check(opcode, length, fin);
  const masked = m !== undefined && m !== false;
  const size = frameHeaderSize(length, masked);
  const out = alloc(size + length);
  putHeader(out, 0, firstByte(opcode, fin, opts?.rsv1), length, m);
  if (masked) copyMasked(payload, out, size, out[size - 4]!, out[size - 3]!, out[size - 2]!, out[size - 1]!);
  else out.set(payload, size);
  return out;
}

/**
 * Splits a message into frames whose payloads are at most `maxFrameSize` bytes
 * (RFC 6455 §5.4). The first frame carries `opcode` (and RSV1 when `rsv1` is set,
 * RFC 7692 §6.1: only the first frame), the rest are continuations; the last has FIN.
 * Unmasked payloads are views of `payload` (no copy). An empty message is one frame.
 */
export function fragmentMessage(
  opcode: number,
  payload: Uint8Array,
  maxFrameSize: number,
  opts?: Omit<EncodeOptions, "fin">,
): EncodedFrame[] {
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1) throw new RangeError("maxFrameSize must be ≥ 1");
  if (isControlOpcode(opcode)) throw new RangeError("control frames cannot be fragmented");
  const frames: EncodedFrame[] = [];
  let pos = 0;
  do {
    const end = Math.min(payload.length, pos + maxFrameSize);
    frames.push(
      encodeFrame(pos === 0 ? opcode : 0, payload.subarray(pos, end), {
        fin: end === payload.length,
        rsv1: pos === 0 && opts?.rsv1 === true,
        mask: opts?.mask,
        maskInPlace: opts?.maskInPlace,
      }),
    );
    pos = end;
  } while (pos < payload.length);
  return frames;
}

const encoder = new TextEncoder();

/** RFC 6455 §5.5.1: the reason must fit in a control frame with the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The payload of a close frame: empty without a code, else the 2-byte code and the UTF-8
 * reason. Throws RangeError for a code that must not be sent or a reason over 123 bytes.
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") throw new RangeError("a close reason needs a close code");
    return new Uint8Array(0);
  }
  if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} must not be sent`);
  const text = encoder.encode(reason);
  if (text.length > MAX_CLOSE_REASON_BYTES) throw new RangeError("close reason longer than 123 bytes");
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** A complete close frame in one buffer (header + code + reason). */
export function encodeCloseFrame(code?: number, reason = "", opts?: Pick<EncodeOptions, "mask">): Uint8Array {
  return encodeFrameBytes(8, encodeClosePayload(code, reason), { mask: opts?.mask });
}

/** Cuts `reason` to at most `maxBytes` of UTF-8 without splitting a code point. */
export function truncateReason(reason: string, maxBytes = MAX_CLOSE_REASON_BYTES): string {
  const bytes = encoder.encode(reason);
  if (bytes.length <= maxBytes) return reason;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/** The close frame to send for a protocol error: its code and (truncated) reason. */
export function closeFrameFor(error: ProtocolError, opts?: Pick<EncodeOptions, "mask">): Uint8Array {
  return encodeCloseFrame(error.closeCode, truncateReason(error.reason), opts);
}
