/**
 * Incremental frame decoder (RFC 6455 §5.2): bytes in, frame headers and payload pieces out.
 * It never copies payload bytes: a piece is a view of the chunk it arrived in, unmasked in
 * place. Only a header split across chunks is copied, into a spill of at most 14 bytes.
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { maskRange } from "./mask.ts";

/** What {@link FrameDecoder.nextFrame} found. */
export const FrameEvent = {
  /** Need more bytes: push another chunk. */
  None: 0,
  /** A frame header was read; its fields are set and `remaining` payload bytes follow. */
  Header: 1,
  /** `data` holds the next payload piece (unmasked); `remaining` bytes of the frame still follow. */
  Data: 2,
  /** `error` holds the ProtocolError; the decoder is failed. */
  Error: 3,
} as const;
export type FrameEvent = (typeof FrameEvent)[keyof typeof FrameEvent];

const EMPTY = new Uint8Array(0);
const MAX_HEADER = 14;

const S_HEADER = 0;
const S_PAYLOAD = 1;
const S_FAILED = 2;

/**
 * Parses frames from chunks of any size. Usage: `push(chunk)`, then call `nextFrame()` until
 * it returns `FrameEvent.None`. Payload views stay valid as long as the caller does not
 * reuse the chunk's memory. Per-connection state is a handful of numbers, the queue of
 * unconsumed chunks and (only after a split header) a 14-byte spill.
 */
export class FrameDecoder {
  /** Header fields of the current frame. */
  fin = false;
  rsv1 = false;
  rsv2 = false;
  rsv3 = false;
  opcode = 0;
  masked = false;
  /** Payload length of the current frame. */
  length = 0;
  /** Payload bytes of the current frame not yet delivered. */
  remaining = 0;
  /** Offset of `data` within the current frame's payload. */
  offset = 0;
  /** The latest payload piece (valid after FrameEvent.Data). */
  data: Uint8Array = EMPTY;
  /** Set after FrameEvent.Error. */
  error: ProtocolError | undefined = undefined;

  private k0 = 0;
  private k1 = 0;
  private k2 = 0;
  private k3 = 0;
  private state = S_HEADER;
  private cur: Uint8Array | undefined = undefined;
  private pos = 0;
  private queue: Uint8Array[] | undefined = undefined;
  private queued = 0;
  private spill: Uint8Array | undefined = undefined;
  private spillLen = 0;

  /** Adds a chunk. The decoder keeps a reference (no copy) until the bytes are consumed. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.state === S_FAILED) return;
    if (this.cur === undefined) {
      this.cur = chunk;
      this.pos = 0;
    } else {
      (this.queue ??= []).push(chunk);
      this.queued += chunk.length;
    }
  }

  /** Bytes pushed but not consumed yet (for backpressure: stop reading when this grows). */
  get buffered(): number {
    return (this.cur === undefined ? 0 : this.cur.length - this.pos) + this.queued + this.spillLen;
  }

  /** True after an error: all further input is discarded. */
  get failed(): boolean {
    return this.state === S_FAILED;
  }

  /** Drops all unconsumed input (after a close frame nothing more is read). */
  protected dropInput(): void {
    this.cur = undefined;
    this.queue = undefined;
    this.queued = 0;
    this.spillLen = 0;
  }

  /** Puts the decoder into the failed state with `error` (used by the message layer too). */
  protected fail(error: ProtocolError): FrameEvent {
    this.error = error;
    this.state = S_FAILED;
    this.cur = undefined;
    this.queue = undefined;
    this.queued = 0;
    this.spillLen = 0;
    return FrameEvent.Error;
  }

  private advance(): boolean {
    const q = this.queue;
    if (q !== undefined && q.length > 0) {
      const next = q.shift()!;
      this.queued -= next.length;
      this.cur = next;
      this.pos = 0;
      return true;
    }
    this.cur = undefined;
    return false;
  }

  /** Returns the next event; see {@link FrameEvent}. */
  nextFrame(): FrameEvent {
    if (this.state === S_PAYLOAD) return this.payload();
    if (this.state === S_FAILED) return FrameEvent.None;
    return this.header();
  }

  private header(): FrameEvent {
    let cur = this.cur;
    if (cur === undefined) return FrameEvent.None;
    let pos = this.pos;
    if (this.spillLen === 0 && cur.length - pos >= 2) {
      const size = headerSize(cur[pos + 1]!);
      if (cur.length - pos >= size) {
        this.pos = pos + size;
        if (this.pos === cur.length) this.advance();
        return this.parseHeader(cur, pos);
      }
    }
    // Slow path: the header is split across chunks; gather it in the spill.
    const spill = (this.spill ??= new Uint8Array(MAX_HEADER));
    for (;;) {
      const target = this.spillLen < 2 ? 2 : headerSize(spill[1]!);
      if (this.spillLen >= target) {
        this.spillLen = 0;
        return this.parseHeader(spill, 0);
      }
      const take = Math.min(target - this.spillLen, cur.length - pos);
      spill.set(cur.subarray(pos, pos + take), this.spillLen);
      this.spillLen += take;
      pos += take;
      this.pos = pos;
      if (pos === cur.length) {
        if (!this.advance()) {
          if (this.spillLen >= (this.spillLen < 2 ? 2 : headerSize(spill[1]!))) continue;
          return FrameEvent.None;
        }
        cur = this.cur!;
        pos = 0;
      }
    }
  }

  private parseHeader(b: Uint8Array, p: number): FrameEvent {
    const b0 = b[p]!;
    const b1 = b[p + 1]!;
    this.fin = (b0 & 0x80) !== 0;
    this.rsv1 = (b0 & 0x40) !== 0;
    this.rsv2 = (b0 & 0x20) !== 0;
    this.rsv3 = (b0 & 0x10) !== 0;
    this.opcode = b0 & 0x0f;
    this.masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    p += 2;
    if (len === 126) {
      len = (b[p]! << 8) | b[p + 1]!;
      p += 2;
    } else if (len === 127) {
      const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
      if (hi > 0x7fffffff)
        return this.fail(new ProtocolError("protocol", "64-bit payload length with the top bit set"));
      const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
      len = hi * 0x1_0000_0000 + lo;
      p += 8;
    }
    if (this.masked) {
      this.k0 = b[p]!;
      this.k1 = b[p + 1]!;
      this.k2 = b[p + 2]!;
      this.k3 = b[p + 3]!;
    }
    this.length = len;
    this.remaining = len;
    this.offset = 0;
    this.data = EMPTY;
    this.state = S_PAYLOAD;
    return FrameEvent.Header;
  }

  private payload(): FrameEvent {
    const remaining = this.remaining;
    if (remaining === 0) {
      // Empty payload: one Data event with an empty view marks the end of the frame.
      this.offset = 0;
      this.data = EMPTY;
      this.state = S_HEADER;
      return FrameEvent.Data;
    }
    const cur = this.cur;
    if (cur === undefined) return FrameEvent.None;
    const pos = this.pos;
    const take = Math.min(remaining, cur.length - pos);
    const end = pos + take;
    // An all-zero key (legal, if unwise) leaves the bytes as they are: skip the XOR.
    if (this.masked && (this.k0 | this.k1 | this.k2 | this.k3) !== 0) {
      maskRange(cur, pos, end, this.k0, this.k1, this.k2, this.k3, this.length - remaining);
    }
    this.offset = this.length - remaining;
    this.data = pos === 0 && end === cur.length ? cur : cur.subarray(pos, end);
    this.remaining = remaining - take;
    this.pos = end;
    if (end === cur.length) this.advance();
    if (this.remaining === 0) this.state = S_HEADER;
    return FrameEvent.Data;
  }
}

/** Header size given the second header byte: 2, 4 or 10 bytes, plus 4 for the mask. */
function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return (len < 126 ? 2 : len === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}
