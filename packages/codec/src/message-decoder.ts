/**
 * The message layer (RFC 6455 §5.4–§5.6, §7.4; RFC 7692 §6): enforces the protocol rules
 * on decoded frames, reassembles fragmented messages, validates UTF-8 as bytes arrive and
 * hands out messages and control frames as events. Sans-I/O: bytes in, events out.
 * @module
 */
import { isValidCloseCode, ProtocolError } from "./errors.ts";
import { FrameDecoder, FrameEvent } from "./frame-decoder.ts";
import type { PerMessageDeflate, Role } from "./permessage-deflate.ts";
import { UTF8_INVALID, utf8Step } from "./utf8.ts";

/** What {@link MessageDecoder.next} found. Message events use the opcode's number. */
export const DecoderEvent = {
  /** Need more bytes (or the decoder is closed/failed): push another chunk. */
  None: 0,
  /** `data` is a complete text message (valid UTF-8). */
  Text: 1,
  /** `data` is a complete binary message. */
  Binary: 2,
  /** A close frame: `closeCode` (1005 when absent) and `closeReason`; later input is discarded. */
  Close: 8,
  /** A ping: `data` is its payload (answer with a pong carrying the same bytes). */
  Ping: 9,
  /** A pong: `data` is its payload. */
  Pong: 10,
  /** A permessage-deflate message is complete: call `await decoder.inflate()` before `next()`. */
  Compressed: 16,
  /** `error` is the ProtocolError: send `closeFrameFor(error)`; later input is discarded. */
  Error: 255,
} as const;
export type DecoderEvent = (typeof DecoderEvent)[keyof typeof DecoderEvent];

/** Limits and role of a {@link MessageDecoder}. */
export interface DecoderOptions {
  /** "server" expects masked frames (RFC 6455 §5.1), "client" unmasked ones. */
  role: Role;
  /** Largest message (and frame) payload in bytes, else close 1009. Default 64 MiB. */
  maxPayload?: number;
  /** Most frames in one fragmented message, else close 1009. Default 16,384. */
  maxFragments?: number;
  /** The negotiated permessage-deflate session; RSV1 is a protocol error without one. */
  deflate?: PerMessageDeflate;
  /**
   * Optional native validator for whole messages of ≥ 128 bytes that arrive in one piece (below
   * that the call costs more than the JavaScript validator), e.g. `isUtf8` from
   * `node:buffer`, present on Node ≥ 18.14, Deno and Bun). Messages that arrive in pieces are
   * always checked incrementally, byte by byte as they arrive (fail fast).
   */
  isUtf8?: (bytes: Uint8Array) => boolean;
}

export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 16_384;
/**
 * Bytes charged per buffered fragment on top of its payload when checking maxPayload, so
 * a message of many tiny fragments cannot cost more than its limit in bookkeeping.
 */
export const FRAGMENT_OVERHEAD = 16;

const EMPTY = new Uint8Array(0);
const textDecoder = new TextDecoder();

const M_OPEN = 0;
const M_CLOSED = 1;
const M_FAILED = 2;
const M_INFLATE = 3;

/**
 * Incremental WebSocket decoder for one connection:
 *
 * ```ts
 * decoder.push(chunk);
 * for (let ev = decoder.next(); ev !== DecoderEvent.None; ev = decoder.next()) { ... }
 * ```
 *
 * `data` is a view: of the pushed chunk when a whole unfragmented message lay in one chunk
 * (zero copy, unmasked in place), else of a buffer owned by that message. Either way it stays
 * valid after later `next()` calls, as long as the caller does not reuse the chunk's memory.
 * Input never makes `next()` throw: violations come back as `DecoderEvent.Error`.
 */
export class MessageDecoder extends FrameDecoder {
  /** Payload of the latest Text/Binary/Ping/Pong/Compressed event. */
  override data: Uint8Array = EMPTY;
  /** Set by a Close event. */
  closeCode = 1005;
  closeReason = "";

  readonly role: Role;
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly deflate: PerMessageDeflate | undefined;
  private readonly isUtf8: ((bytes: Uint8Array) => boolean) | undefined;

  private mode = M_OPEN;
  /** Opcode of the message in progress (0 = none). */
  private msgOpcode = 0;
  private msgCompressed = false;
  private msgBuf: Uint8Array | undefined = undefined;
  private msgLen = 0;
  private fragments = 0;
  private utf8 = 0;
  private ctrlBuf: Uint8Array | undefined = undefined;
  private ctrlUtf8 = 0;
  private inflateType = 0;

  constructor(options: DecoderOptions) {
    super();
    this.role = options.role;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.deflate = options.deflate;
    this.isUtf8 = options.isUtf8;
  }

  /** Adds a chunk (ignored once a close frame or an error was received). */
  override push(chunk: Uint8Array): void {
    if (this.mode === M_CLOSED || this.mode === M_FAILED) return;
    super.push(chunk);
  }

  /** True once a close frame was received (later input is discarded). */
  get closed(): boolean {
    return this.mode === M_CLOSED;
  }

  private error_(kind: "protocol" | "invalid-data" | "too-big", reason: string): DecoderEvent {
    this.mode = M_FAILED;
    this.msgBuf = undefined;
    this.fail(new ProtocolError(kind, reason));
    return DecoderEvent.Error;
  }

  /** Returns the next event; see {@link DecoderEvent}. */
  next(): DecoderEvent {
    if (this.mode !== M_OPEN) {
      if (this.mode === M_INFLATE) throw new Error("call await decoder.inflate() after a Compressed event");
      return DecoderEvent.None;
    }
    for (;;) {
      const ev = this.nextFrame();
      if (ev === FrameEvent.Data) {
        const r = this.onData();
        if (r !== DecoderEvent.None) return r;
      } else if (ev === FrameEvent.Header) {
        const r = this.onHeader();
        if (r !== DecoderEvent.None) return r;
      } else if (ev === FrameEvent.None) {
        return DecoderEvent.None;
      } else {
        this.mode = M_FAILED;
        return DecoderEvent.Error;
      }
    }
  }

  private onHeader(): DecoderEvent {
    const opcode = this.opcode;
    // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them.
    if (this.rsv2 || this.rsv3) return this.error_("protocol", "RSV2 or RSV3 set without a negotiated extension");
    if (this.rsv1) {
      if (this.deflate === undefined) return this.error_("protocol", "RSV1 set without a negotiated extension");
      // RFC 7692 §6.1: RSV1 only on the first frame of a data message.
      if (opcode !== 1 && opcode !== 2) return this.error_("protocol", "RSV1 set on a continuation or control frame");
    }
    // RFC 6455 §5.1: clients mask, servers do not.
    if (this.masked !== (this.role === "server")) {
      return this.error_("protocol", this.masked ? "masked frame from a server" : "unmasked frame from a client");
    }
    if (opcode >= 8) {
      if (opcode > 10) return this.error_("protocol", `reserved opcode ${opcode}`);
      // RFC 6455 §5.5: control frames MUST NOT be fragmented and have ≤ 125 bytes.
      if (!this.fin) return this.error_("protocol", "fragmented control frame");
      if (this.length > 125) return this.error_("protocol", "control frame payload over 125 bytes");
      if (this.length > this.maxPayload) return this.error_("too-big", "control frame over maxPayload");
      this.ctrlUtf8 = 0;
      return DecoderEvent.None;
    }
    if (opcode === 0) {
      // RFC 6455 §5.4: a continuation needs a message in progress.
      if (this.msgOpcode === 0) return this.error_("protocol", "continuation frame without a message to continue");
    } else if (opcode <= 2) {
      // RFC 6455 §5.4: fragments of one message are not interleaved with another message.
      if (this.msgOpcode !== 0) return this.error_("protocol", "new data frame inside a fragmented message");
      this.msgOpcode = opcode;
      this.msgCompressed = this.rsv1;
      this.msgLen = 0;
      this.fragments = 0;
      this.utf8 = 0;
    } else {
      return this.error_("protocol", `reserved opcode ${opcode}`);
    }
    if (this.length > this.maxPayload - this.msgLen) return this.error_("too-big", "message too big");
    if (!this.fin || opcode === 0) {
      this.fragments++;
      if (
        this.fragments > this.maxFragments ||
        this.msgLen + this.length + this.fragments * FRAGMENT_OVERHEAD > this.maxPayload
      ) {
        return this.error_("too-big", "message has too many fragments");
      }
    }
    return DecoderEvent.None;
  }

  private onData(): DecoderEvent {
    const piece = this.data;
    const opcode = this.opcode;
    const whole = this.offset === 0 && this.remaining === 0;
    if (opcode >= 8) return this.onControl(piece, whole);
    if (whole && opcode !== 0 && this.fin) {
      // Fast path: a whole unfragmented message in one chunk, handed out as a view.
      this.msgOpcode = 0;
      if (this.msgCompressed) {
        this.inflateType = opcode;
        this.mode = M_INFLATE;
        return DecoderEvent.Compressed;
      }
      if (
        opcode === 1 &&
        !(this.isUtf8 !== undefined && piece.length >= 128
          ? this.isUtf8(piece)
          : utf8Step(0, piece, 0, piece.length) === 0)
      ) {
        return this.error_("invalid-data", "invalid UTF-8 in a text message");
      }
      return opcode as DecoderEvent;
    }
    // Slow path: copy into the message's buffer.
    const need = this.msgLen + piece.length;
    let buf = this.msgBuf;
    if (buf === undefined || buf.length < need) {
      const frameEnd = this.msgLen - this.offset + this.length;
      // Exact size for the last frame; geometric growth otherwise, never beyond maxPayload.
      const size = this.fin ? frameEnd : Math.min(this.maxPayload, Math.max(frameEnd, (buf?.length ?? 0) * 2, 1024));
      const grown = new Uint8Array(Math.max(size, need));
      if (buf !== undefined && this.msgLen > 0) grown.set(buf.subarray(0, this.msgLen));
      this.msgBuf = buf = grown;
    }
    buf.set(piece, this.msgLen);
    this.msgLen = need;
    if (this.msgOpcode === 1 && !this.msgCompressed) {
      // Fail fast: reject invalid UTF-8 as soon as it arrives, across frame boundaries.
      const s = utf8Step(this.utf8, piece, 0, piece.length);
      if (s === UTF8_INVALID) return this.error_("invalid-data", "invalid UTF-8 in a text message");
      this.utf8 = s;
    }
    if (this.remaining !== 0 || !this.fin) return DecoderEvent.None;
    // Last piece of the last frame: the message is complete.
    const type = this.msgOpcode;
    this.data = buf.subarray(0, this.msgLen);
    this.msgBuf = undefined;
    this.msgOpcode = 0;
    if (this.msgCompressed) {
      this.inflateType = type;
      this.mode = M_INFLATE;
      return DecoderEvent.Compressed;
    }
    if (type === 1 && this.utf8 !== 0) return this.error_("invalid-data", "truncated UTF-8 in a text message");
    return type as DecoderEvent;
  }

  private onControl(piece: Uint8Array, whole: boolean): DecoderEvent {
    const opcode = this.opcode;
    if (opcode === 8 && this.length > 2) {
      // Validate the close reason as it arrives (it starts at payload offset 2).
      const from = Math.max(0, 2 - this.offset);
      if (from < piece.length) {
        const s = utf8Step(this.ctrlUtf8, piece, from, piece.length);
        if (s === UTF8_INVALID) return this.error_("invalid-data", "invalid UTF-8 in a close reason");
        this.ctrlUtf8 = s;
      }
    }
    let payload = piece;
    if (!whole) {
      const buf = (this.ctrlBuf ??= new Uint8Array(this.length));
      buf.set(piece, this.offset);
      if (this.remaining !== 0) return DecoderEvent.None;
      payload = buf;
      this.ctrlBuf = undefined;
    }
    this.data = payload;
    if (opcode !== 8) return opcode as DecoderEvent;
    // RFC 6455 §5.5.1: a close body is empty or starts with a 2-byte code.
    if (payload.length === 1) return this.error_("protocol", "close frame with a 1-byte payload");
    if (payload.length === 0) {
      this.closeCode = 1005;
      this.closeReason = "";
    } else {
      const code = (payload[0]! << 8) | payload[1]!;
      // RFC 6455 §7.4: only defined codes and 3000–4999 may be received.
      if (!isValidCloseCode(code)) return this.error_("protocol", `invalid close code ${code}`);
      if (this.ctrlUtf8 !== 0) return this.error_("invalid-data", "truncated UTF-8 in a close reason");
      this.closeCode = code;
      this.closeReason = payload.length > 2 ? textDecoder.decode(payload.subarray(2)) : "";
    }
    this.mode = M_CLOSED;
    this.dropInput(); // RFC 6455 §5.5.1: nothing follows a close frame
    return DecoderEvent.Close;
  }

  /**
   * After a Compressed event: decompresses `data` through the session (bounded by
   * `maxPayload` and the session's `maxDecompressedSize`), validates UTF-8 for text, and
   * resolves to Text/Binary with `data` set, or Error with `error` set. Never rejects.
   */
  async inflate(): Promise<DecoderEvent> {
    if (this.mode !== M_INFLATE) throw new Error("inflate() is only valid after a Compressed event");
    const type = this.inflateType;
    try {
      const out = await this.deflate!.decompress(
        this.data,
        Math.min(this.maxPayload, this.deflate!.maxDecompressedSize),
      );
      if (this.mode !== M_INFLATE) return DecoderEvent.None;
      if (type === 1 && !(this.isUtf8 !== undefined ? this.isUtf8(out) : utf8Step(0, out, 0, out.length) === 0)) {
        return this.error_("invalid-data", "invalid UTF-8 in a text message");
      }
      this.mode = M_OPEN;
      this.data = out;
      return type as DecoderEvent;
    } catch (e) {
      if (this.mode !== M_INFLATE) return DecoderEvent.None;
      this.mode = M_FAILED;
      this.fail(e instanceof ProtocolError ? e : new ProtocolError("internal", "decompression failed"));
      return DecoderEvent.Error;
    }
  }
}
