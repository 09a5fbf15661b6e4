/**
 * @module
 * The load generator's framing: client frames built once (masked with a fixed
 * key, which is fine for a load tool) and written many times, and a minimal
 * reader for server frames that parses headers, skips payloads and counts
 * messages. Pure: only `Uint8Array` and `DataView`.
 */

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** The mask key every frame of the load generator uses (RFC 6455 §5.3 only asks servers to unmask). */
export const DEFAULT_MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** Length of the header of a masked client frame carrying `length` payload bytes. */
export function clientHeaderLength(length: number): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + 4;
}

/** One masked client frame (RFC 6455 §5.2) with FIN set, ready to be written as is. */
export function buildClientFrame(payload: Uint8Array, opcode = OP_BINARY, mask = DEFAULT_MASK): Uint8Array {
  const length = payload.length;
  const headerLength = clientHeaderLength(length);
  const frame = new Uint8Array(headerLength + length);
  frame[0] = 0x80 | opcode;
  let at = 2;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
    at = 4;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
    at = 10;
  }
  frame.set(mask, at);
  at += 4;
  for (let i = 0; i < length; i++) frame[at + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/** `count` copies of the same frame back to back, so that `n` of them are one `subarray(0, n * frame.length)`. */
export function repeatFrame(frame: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length);
  return out;
}

/** A payload of `size` bytes: printable ASCII (valid UTF-8, so it can go in a text frame). */
export function makePayload(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = 0x61 + (i % 26);
  return out;
}

/**
 * Reads server frames without keeping them: parses each header (spilling at
 * most 14 bytes when a header is split across reads), skips the payload and
 * counts completed data messages. When `prefix` is set, hands the first
 * `prefix` bytes of every data message to `onPrefix` (the broadcast mode reads
 * a timestamp there).
 */
export class FrameReader {
  /** Completed data messages (text or binary, all fragments received). */
  messages = 0;
  /** Data frames read, including fragments. */
  frames = 0;
  /** Control frames read (ping, pong, close). */
  controls = 0;
  /** Set when the server sent a close frame. */
  closed = false;
  /** Set when the server sent a ping (the load generator does not answer; servers in the suite do not ping). */
  pinged = false;

  private skip = 0;
  private opcode = 0;
  private fin = false;
  private head: Uint8Array | undefined;
  private headLength = 0;
  private readonly prefixWanted: number;
  private readonly prefixBuffer: Uint8Array | undefined;
  private readonly prefixView: DataView | undefined;
  private prefixGot = 0;
  private readonly onPrefix: ((view: DataView) => void) | undefined;

  /** Nothing allocated unless asked for: a reader per connection, ten thousands of connections. */
  constructor(prefix = 0, onPrefix?: (view: DataView) => void) {
    this.prefixWanted = prefix;
    if (prefix > 0) {
      this.prefixBuffer = new Uint8Array(prefix);
      this.prefixView = new DataView(this.prefixBuffer.buffer);
    }
    this.onPrefix = onPrefix;
  }

  /** Between frames: the next byte starts a frame header. */
  idle(): boolean {
    return this.skip === 0 && this.headLength === 0;
  }

  /** Feeds `chunk[start..end)` read from the socket; returns how many data messages those bytes completed. */
  push(chunk: Uint8Array, end = chunk.length, start = 0): number {
    const before = this.messages;
    const n = end;
    let i = start;
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        if (this.prefixGot < this.prefixWanted) this.copyPrefix(chunk, i, take);
        this.skip -= take;
        i += take;
        if (this.skip === 0) this.endFrame();
        continue;
      }
      if (this.headLength === 0 && n - i >= 2) {
        // Fast path: the whole header is in this chunk.
        const b1 = chunk[i + 1]!;
        const len7 = b1 & 0x7f;
        const headerLength = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
        if (n - i >= headerLength) {
          this.startFrame(chunk, i, len7);
          i += headerLength;
          continue;
        }
      }
      // Slow path: gather the header byte by byte into the spill buffer.
      this.head ??= new Uint8Array(14);
      this.head[this.headLength++] = chunk[i++]!;
      if (this.headLength >= 2) {
        const b1 = this.head[1]!;
        const len7 = b1 & 0x7f;
        const headerLength = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
        if (this.headLength === headerLength) {
          this.headLength = 0;
          this.startFrame(this.head, 0, len7);
        }
      }
    }
    return this.messages - before;
  }

  private startFrame(bytes: Uint8Array, at: number, len7: number): void {
    const b0 = bytes[at]!;
    this.fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let length = len7;
    if (len7 === 126) length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    else if (len7 === 127) {
      const hi = ((bytes[at + 2]! << 24) | (bytes[at + 3]! << 16) | (bytes[at + 4]! << 8) | bytes[at + 5]!) >>> 0;
      const lo = ((bytes[at + 6]! << 24) | (bytes[at + 7]! << 16) | (bytes[at + 8]! << 8) | bytes[at + 9]!) >>> 0;
      length = hi * 2 ** 32 + lo;
    }
    this.opcode = opcode;
    // A new data message (not a continuation, not a control frame) starts its prefix afresh.
    if (opcode === OP_TEXT || opcode === OP_BINARY) this.prefixGot = 0;
    this.skip = length;
    if (length === 0) this.endFrame();
  }

  private copyPrefix(chunk: Uint8Array, at: number, take: number): void {
    if (this.opcode >= 8) return; // control frames interleaved in a fragmented message carry no prefix
    const want = Math.min(this.prefixWanted - this.prefixGot, take);
    this.prefixBuffer!.set(chunk.subarray(at, at + want), this.prefixGot);
    this.prefixGot += want;
    if (this.prefixGot === this.prefixWanted) this.onPrefix?.(this.prefixView!);
  }

  private endFrame(): void {
    const opcode = this.opcode;
    if (opcode >= 8) {
      this.controls++;
      if (opcode === OP_CLOSE) this.closed = true;
      else if (opcode === OP_PING) this.pinged = true;
      return;
    }
    this.frames++;
    if (this.fin) this.messages++;
  }
}

/**
 * How many copies of `frame` `chunk[0..end)` holds when it is exactly whole
 * copies of it (compared on the header only: payloads are not looked at), else -1.
 * The echo mode's fast path: a reader between frames can take such a chunk as
 * that many complete messages without parsing.
 */
export function countWhole(chunk: Uint8Array, end: number, frame: Uint8Array): number {
  const len = frame.length;
  if (end === 0 || end % len !== 0) return -1;
  const h = headerLength(frame);
  for (let at = 0; at < end; at += len) {
    for (let j = 0; j < h; j++) if (chunk[at + j] !== frame[j]) return -1;
  }
  return end / len;
}

/** Header length of an unmasked or masked frame from its first two bytes. */
function headerLength(frame: Uint8Array): number {
  const b1 = frame[1]!;
  const len7 = b1 & 0x7f;
  return (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (b1 & 0x80 ? 4 : 0);
}

/** A server (unmasked) frame, for tests and for servers written in this package. */
export function buildServerFrame(payload: Uint8Array, opcode = OP_BINARY, fin = true): Uint8Array {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = new Uint8Array(headerLength + length);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (length < 126) frame[1] = length;
  else if (length < 65536) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(length));
  }
  frame.set(payload, headerLength);
  return frame;
}
