/**
 * One WebSocket connection (server or client role) over a transport connection:
 * the codec's MessageDecoder on the way in, frames written straight to the
 * transport on the way out, permessage-deflate kept in message order.
 */
import { Buffer, isUtf8 } from "node:buffer";
import {
  closeFrameFor,
  DecoderEvent,
  encodeCloseFrame,
  encodeFrame,
  encodeFrameBytes,
  fragmentMessage,
  frameHeaderSize,
  isValidCloseCode,
  MessageDecoder,
  type NegotiatedDeflate,
  Opcode,
  type PerMessageDeflate,
  type ProtocolError,
  writeFrameHeader,
} from "@wirehouse/codec";
import type { Connection, Timer, TimerWheel } from "@wirehouse/transport";
import type { Limiter } from "./limiter.ts";
import type { PreparedMessage, SendOptions, SendResult, WebSocket, WebSocketHandler } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** Bytes to a string, one char per byte, by offsets (no view to create): ASCII text in `receiveWhole`. */
const latin1Slice = (Buffer.prototype as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string })
  .latin1Slice;

/** Options resolved once per endpoint (all times in milliseconds). */
export interface ResolvedWsOptions {
  maxPayload: number;
  idleTimeoutMs: number;
  resetIdleOnSend: boolean;
  maxLifetimeMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  autoPong: boolean;
  maxBackpressure: number;
  closeOnBackpressureLimit: boolean;
  maxFrameSize: number;
  highWaterMark: number;
  /** Caps concurrent zlib work of the endpoint (deflate.maxConcurrency), if set. */
  zlib?: Limiter;
}

/** What a socket needs from its owner (the server, or the client for connect()). */
export interface SocketOwner {
  readonly wheel: TimerWheel;
  /** Called once when the socket is gone (after handler.close). */
  socketClosed(ws: WsSocket): void;
  subscribe(ws: WsSocket, topic: string): void;
  unsubscribe(ws: WsSocket, topic: string): void;
  publishFrom(ws: WsSocket, topic: string, data: string | Uint8Array, options?: SendOptions): void;
  /** Extra listeners (the event facade). */
  emitOpen?(ws: WsSocket, request: unknown): void;
  emitMessage?(ws: WsSocket, data: string | Uint8Array, isBinary: boolean): void;
  emitClose?(ws: WsSocket, code: number, reason: string): void;
  onError?(error: unknown, where: string): void;
}

enum State {
  Open = 1,
  Closing = 2,
  Closed = 3,
}

function toBytes(data: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  return new Uint8Array(data);
}

/**
 * An unmasked text frame for a short ASCII string (≤ 125 characters), or null if it has other
 * characters. A loop over a few dozen characters beats TextEncoder plus copying into a frame.
 * The frame is encoded into the connection's own write memory (`allocate`); a buffer left
 * unused when the string turns out not to be ASCII is taken back by the transport.
 */
function shortTextFrame(conn: Connection<unknown>, s: string): Uint8Array | null {
  const n = s.length;
  const f = conn.allocate(2 + n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return null;
    f[2 + i] = c;
  }
  f[0] = 0x81; // FIN + text
  f[1] = n;
  return f;
}

function isPrepared(data: unknown): data is PreparedMessage {
  return typeof data === "object" && data !== null && "frame" in data && "payload" in data;
}

/** What the sockets of one endpoint share: kept once per endpoint, not per socket. */
export interface WsEndpoint<T = unknown> {
  readonly owner: SocketOwner;
  readonly handler: WebSocketHandler<T>;
  readonly options: ResolvedWsOptions;
}

/** The socket whose `open` runs now and its upgrade request (see `WsSocket.request`). */
let openingSocket: unknown = null;
let openingRequest: unknown;

/**
 * Memory per idle connection: an idle socket carries six fields (connection, endpoint, user
 * data, state and flag bits, last read, timer), which JavaScriptCore and V8 keep inline in a
 * 64-byte object. Only `this.x =` assignments in the constructor size the object, so the
 * others are declared here, default from the prototype (see the end of this file) and are set
 * elsewhere (`setRare`, or on first use), so a socket that never compresses, subscribes, pings
 * or closes does not pay for them. Owner, handler and options are one shared endpoint object.
 */
export class WsSocket<T = unknown> implements WebSocket<T> {
  readonly conn: Connection<unknown>;
  private readonly ep: WsEndpoint<T>;
  data: T;
  /** The state (the low two bits, see `State`) and the W_ flags. */
  private bits: number;
  private lastReceived: number;
  private timer: Timer<never> | null;
  /** The agreed permessage-deflate parameters, if any. */
  declare deflateParams: NegotiatedDeflate | undefined;
  declare readonly protocol: string;
  declare readonly extensions: string;
  declare readonly deflate: PerMessageDeflate | undefined;
  /** The topics this socket is subscribed to (created on first subscribe). */
  declare private topicSet: Set<string> | null;
  /** Created on the first received bytes (an idle socket never needs one). */
  declare private decoder: MessageDecoder | null;
  /** Sends waiting behind a compression (message order); null when none pending. */
  declare private tail: Promise<void> | null;
  declare private pendingBytes: number;
  declare private pendingSends: number;
  declare private openedAt: number;
  declare private pingSentAt: number;
  declare private closeCode: number;
  declare private closeReason: string;

  constructor(
    conn: Connection<unknown>,
    ep: WsEndpoint<T>,
    role: "server" | "client",
    data: T,
    protocol: string,
    extensions: string,
    deflate: PerMessageDeflate | undefined,
  ) {
    this.conn = conn;
    this.ep = ep;
    this.data = data;
    this.bits = role === "client" ? W_CLIENT | State.Open : State.Open;
    const wheel = ep.owner.wheel;
    // Schedule first: scheduling on an empty wheel brings `wheel.elapsed` up to date.
    const first = this.nextDeadline();
    this.timer =
      first > 0 ? (wheel.schedule(first, onTimer, this as unknown as WsSocket) as unknown as Timer<never>) : null;
    this.lastReceived = wheel.elapsed;
    if (ep.options.maxLifetimeMs > 0 || protocol !== "" || extensions !== "" || deflate !== undefined) {
      this.setRare(protocol, extensions, deflate);
    }
  }

  /** The fields few sockets have (outside the constructor: see the class comment). */
  private setRare(protocol: string, extensions: string, deflate: PerMessageDeflate | undefined): void {
    if (this.ep.options.maxLifetimeMs > 0) this.openedAt = this.lastReceived;
    if (protocol !== "") (this as { protocol: string }).protocol = protocol;
    if (extensions !== "") (this as { extensions: string }).extensions = extensions;
    if (deflate !== undefined) (this as { deflate: PerMessageDeflate }).deflate = deflate;
  }

  get handler(): WebSocketHandler<T> {
    return this.ep.handler;
  }
  private get owner(): SocketOwner {
    return this.ep.owner;
  }
  private get options(): ResolvedWsOptions {
    return this.ep.options;
  }
  private get state(): State {
    return this.bits & STATE_MASK;
  }
  private set state(v: State) {
    this.bits = (this.bits & ~STATE_MASK) | v;
  }
  /** The upgrade request while `open` runs (server role; undefined otherwise). */
  get request(): unknown {
    return openingSocket === this ? openingRequest : undefined;
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  get bufferedAmount(): number {
    return this.conn.bufferedAmount + this.pendingBytes;
  }
  get readyState(): number {
    return this.state;
  }
  get topics(): ReadonlySet<string> {
    return this.topicSet ?? EMPTY_SET;
  }

  // ---- receiving -------------------------------------------------------------------------

  /** Bytes from the transport. `copy`: the transport may reuse the chunk's memory after we return. */
  receive(chunk: Uint8Array, copy: boolean): void {
    if (this.state === State.Closed) return;
    if (this.decoder === null) {
      // Until a chunk is not made of whole small frames, the decoder is not needed (see receiveWhole).
      const used = this.receiveWhole(chunk, copy);
      if (used === chunk.length || (this.state as State) === State.Closed) return;
      // The rest goes to the decoder (which, like here, copies what it keeps when `copy` is set).
      if (used > 0) chunk = chunk.subarray(used);
    }
    const d = this.decoder ?? this.newDecoder();
    if (d.failed) return;
    this.lastReceived = this.owner.wheel.elapsed;
    if (this.draining) {
      // A message is being inflated: keep the bytes (copied: they outlive this call) and stop reading.
      d.push(copy ? chunk.slice() : chunk);
      if (d.buffered > this.options.highWaterMark) this.conn.pause();
      return;
    }
    if (copy && this.deflate !== undefined) {
      // An inflate may suspend decoding mid-chunk, keeping the rest of it for later: own the bytes.
      d.push(chunk.slice());
      this.pump(false);
      return;
    }
    d.push(chunk);
    this.pump(copy);
  }

  /**
   * Server role without permessage-deflate: delivers the whole, unfragmented, masked text and binary
   * frames of up to 125 bytes (and within maxPayload) at the start of `chunk` without the general
   * decoder, and returns how many bytes they took. It stops at the first frame it does not take (a
   * control frame, a fragment, a longer or split frame, invalid UTF-8) and leaves it, at a frame
   * boundary with no message in progress, to the decoder, which is then used for good. A 32 B echo
   * spends about a third less CPU in JavaScript this way. The chunk is unmasked in place, as the
   * decoder does.
   */
  private receiveWhole(chunk: Uint8Array, copy: boolean): number {
    if ((this.bits & W_CLIENT) !== 0 || this.deflate !== undefined) return 0;
    this.lastReceived = this.owner.wheel.elapsed;
    const n = chunk.length;
    const max = this.options.maxPayload;
    let pos = 0;
    while (n - pos >= 6) {
      const b0 = chunk[pos]!;
      const b1 = chunk[pos + 1]!;
      // FIN, no RSV bits, text or binary; masked, 7-bit length.
      if ((b0 !== 0x81 && b0 !== 0x82) || b1 < 0x80) break;
      const len = b1 & 0x7f;
      if (len > 125 || len > max) break;
      const start = pos + 6;
      const end = start + len;
      if (end > n) break;
      let high = 0;
      for (let i = start; i < end; i++) {
        const c = chunk[i]! ^ chunk[pos + 2 + ((i - start) & 3)]!;
        chunk[i] = c;
        high |= c;
      }
      if (b0 === 0x81) {
        let text: string;
        if (high < 0x80 && latin1Slice !== undefined) text = latin1Slice.call(chunk, start, end);
        else {
          const payload = chunk.subarray(start, end);
          if (high >= 0x80 && !isUtf8(payload)) {
            // Masked again (XOR undoes itself): the decoder reports the frame (1007).
            for (let i = start; i < end; i++) chunk[i] = chunk[i]! ^ chunk[pos + 2 + ((i - start) & 3)]!;
            break;
          }
          text = decoder.decode(payload);
        }
        this.deliver(text, false);
      } else {
        this.deliver(copy ? chunk.slice(start, end) : chunk.subarray(start, end), true);
      }
      pos = end;
      if (this.state === State.Closed) break;
    }
    return pos;
  }

  private newDecoder(): MessageDecoder {
    const d = new MessageDecoder({
      role: this.client ? "client" : "server",
      maxPayload: this.options.maxPayload,
      deflate: this.deflate,
      isUtf8,
    });
    this.decoder = d;
    return d;
  }

  private get client(): boolean {
    return (this.bits & W_CLIENT) !== 0;
  }
  private get draining(): boolean {
    return (this.bits & W_DRAINING) !== 0;
  }
  private set draining(v: boolean) {
    this.bits = v ? this.bits | W_DRAINING : this.bits & ~W_DRAINING;
  }
  private get awaitingPong(): boolean {
    return (this.bits & W_AWAITING_PONG) !== 0;
  }
  private set awaitingPong(v: boolean) {
    this.bits = v ? this.bits | W_AWAITING_PONG : this.bits & ~W_AWAITING_PONG;
  }
  private get closeSent(): boolean {
    return (this.bits & W_CLOSE_SENT) !== 0;
  }
  private set closeSent(v: boolean) {
    this.bits = v ? this.bits | W_CLOSE_SENT : this.bits & ~W_CLOSE_SENT;
  }
  private get finished(): boolean {
    return (this.bits & W_FINISHED) !== 0;
  }
  private set finished(v: boolean) {
    this.bits = v ? this.bits | W_FINISHED : this.bits & ~W_FINISHED;
  }

  private pump(copy: boolean): void {
    const d = this.decoder!;
    for (let ev = d.next(); ev !== DecoderEvent.None; ev = d.next()) {
      if (ev === DecoderEvent.Compressed) {
        this.draining = true;
        const zlib = this.options.zlib;
        void (zlib ? zlib.run(() => d.inflate()) : d.inflate()).then((r) => {
          this.dispatch(r, false);
          this.draining = false;
          if (this.state !== State.Closed && !d.failed) {
            this.pump(false);
            this.conn.resume();
          }
        });
        return;
      }
      if (!this.dispatch(ev, copy)) return;
    }
  }

  /** Handles one event; false to stop reading. */
  private dispatch(ev: number, copy: boolean): boolean {
    const d = this.decoder!;
    switch (ev) {
      case DecoderEvent.Text:
        this.deliver(decoder.decode(d.data), false);
        return true;
      case DecoderEvent.Binary:
        this.deliver(copy ? d.data.slice() : d.data, true);
        return true;
      case DecoderEvent.Ping:
        if (this.state === State.Open && this.options.autoPong) this.writeControl(Opcode.Pong, d.data);
        if (this.handler.ping) this.safe(() => this.handler.ping?.(this, d.data.slice()), "ping");
        return true;
      case DecoderEvent.Pong:
        this.awaitingPong = false;
        if (this.handler.pong) this.safe(() => this.handler.pong?.(this, d.data.slice()), "pong");
        return true;
      case DecoderEvent.Close: {
        this.closeCode = d.closeCode;
        this.closeReason = d.closeReason;
        if (!this.closeSent) {
          this.closeSent = true;
          // Echo the peer's code and reason (as ws does): a browser that closed with a reason sees it in its close event.
          if (d.closeCode === 1005) this.queueWrite(encodeCloseFrame(undefined, "", { mask: this.client }));
          else this.queueWrite(encodeCloseFrame(d.closeCode, d.closeReason, { mask: this.client }));
        }
        this.state = State.Closing;
        this.endAfterQueue();
        return false;
      }
      case DecoderEvent.Error: {
        const error = d.error as ProtocolError;
        this.closeCode = error.closeCode;
        this.closeReason = error.reason;
        if (!this.closeSent) {
          this.closeSent = true;
          this.queueWrite(closeFrameFor(error, { mask: this.client }));
        }
        this.state = State.Closing;
        this.endAfterQueue();
        return false;
      }
    }
    return true;
  }

  private deliver(data: string | Uint8Array, binary: boolean): void {
    if (this.state !== State.Open) return;
    const h = this.handler.message;
    if (h !== undefined) {
      try {
        const r = h.call(this.handler, this, data, binary);
        if (r !== undefined && typeof (r as Promise<void>).then === "function") {
          (r as Promise<void>).then(undefined, (e) => this.handlerFailed(e, "message"));
        }
      } catch (e) {
        this.handlerFailed(e, "message");
      }
    }
    this.owner.emitMessage?.(this, data, binary);
  }

  private handlerFailed(error: unknown, where: string): void {
    this.owner.onError?.(error, `websocket ${where}`);
    this.close(1011, "internal error");
  }

  private safe(fn: () => void, where: string): void {
    try {
      fn();
    } catch (e) {
      this.handlerFailed(e, where);
    }
  }

  // ---- sending ---------------------------------------------------------------------------

  send(data: string | Uint8Array | ArrayBuffer | PreparedMessage, options?: SendOptions | boolean): SendResult {
    if (this.state !== State.Open) return -1;
    if (isPrepared(data)) {
      const z = this.deflate;
      const c = data as PreparedMessage & { compressedFor?(windowBits: number): Promise<Uint8Array> };
      if (z === undefined || c.compressedFor === undefined || !z.shouldCompress(data.payload.length)) {
        return this.sendFrame(data.frame, data);
      }
      const params = this.deflateParams;
      // Without context takeover the compressed frame depends only on the window: shared by every such socket.
      if (params?.serverNoContextTakeover)
        return this.sendFrameLater(c.compressedFor(params.serverMaxWindowBits), data.payload);
      return this.send(data.payload, { binary: data.binary, compress: true });
    }
    const binary = typeof options === "boolean" ? options : (options?.binary ?? typeof data !== "string");
    const compress = typeof options === "object" ? options.compress : undefined;
    if (
      typeof data === "string" &&
      !binary &&
      data.length <= 125 &&
      this.tail === null &&
      (this.bits & W_CLIENT) === 0
    ) {
      const z = this.deflate;
      const max = this.options.maxFrameSize;
      if (
        (z === undefined || compress === false || !z.shouldCompress(data.length)) &&
        (max === 0 || data.length <= max)
      ) {
        const frame = shortTextFrame(this.conn, data);
        if (frame !== null) {
          if (this.bufferedAmount + data.length > this.options.maxBackpressure) return this.dropped(data);
          this.touchSend();
          return this.write(frame) ? 1 : 0;
        }
      }
    }
    const payload = toBytes(data);
    if (this.bufferedAmount + payload.length > this.options.maxBackpressure) return this.dropped(data);
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const z = this.deflate;
    if (z !== undefined && compress !== false && z.shouldCompress(payload.length)) {
      // Compress in order; the frames are written when their compression (and every earlier one) is done.
      this.pendingBytes += payload.length;
      this.pendingSends++;
      const zlib = this.options.zlib;
      const compressed = zlib ? zlib.run(() => z.compress(payload)) : z.compress(payload);
      const prev = this.tail ?? Promise.resolve();
      const next: Promise<void> = prev.then(async () => {
        let out: Uint8Array;
        try {
          out = await compressed;
        } catch (e) {
          this.owner.onError?.(e, "websocket compress");
          this.settle(payload.length, next);
          this.terminate();
          return;
        }
        this.settle(payload.length, next);
        if (this.state === State.Closed) return;
        this.writeMessage(opcode, out, true);
      });
      this.tail = next;
      return 0;
    }
    if (this.tail !== null) return this.sendFrame(null, null, opcode, payload);
    return this.writeMessage(opcode, payload, false);
  }

  private settle(bytes: number, p: Promise<void>): void {
    this.pendingBytes -= bytes;
    if (--this.pendingSends === 0 && this.tail === p) this.tail = null;
  }

  /** Writes already-encoded frame bytes (publish, prepared messages) keeping message order. */
  sendFrame(frame: Uint8Array | null, prepared: PreparedMessage | null, opcode = 0, payload?: Uint8Array): SendResult {
    if (this.state !== State.Open) return -1;
    const size = frame?.length ?? payload?.length ?? 0;
    if (this.bufferedAmount + size > this.options.maxBackpressure) {
      return this.dropped(prepared ?? (payload as Uint8Array));
    }
    if (this.tail !== null) {
      this.pendingBytes += size;
      this.pendingSends++;
      const next: Promise<void> = this.tail.then(() => {
        this.settle(size, next);
        if (this.state === State.Closed) return;
        if (frame !== null) this.write(frame);
        else this.writeMessage(opcode, payload as Uint8Array, false);
      });
      this.tail = next;
      return 0;
    }
    if (frame !== null) {
      this.touchSend();
      return this.write(frame) ? 1 : 0;
    }
    return this.writeMessage(opcode, payload as Uint8Array, false);
  }

  /**
   * Writes a frame that is still being compressed (one compression shared by many sockets,
   * see `server.publish(..., { compress: true })`), after everything queued before it.
   */
  sendFrameLater(frame: Promise<Uint8Array>, payload: Uint8Array): SendResult {
    if (this.state !== State.Open) return -1;
    const size = payload.length;
    if (this.bufferedAmount + size > this.options.maxBackpressure) return this.dropped(payload);
    this.pendingBytes += size;
    this.pendingSends++;
    const prev = this.tail ?? Promise.resolve();
    const next: Promise<void> = prev.then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = await frame;
      } catch (e) {
        this.owner.onError?.(e, "websocket compress");
        this.settle(size, next);
        this.terminate();
        return;
      }
      this.settle(size, next);
      if (this.state === State.Closed) return;
      this.touchSend();
      this.write(bytes);
    });
    this.tail = next;
    return 0;
  }

  private dropped(data: string | Uint8Array | ArrayBuffer | PreparedMessage): SendResult {
    if (this.handler.dropped) {
      const d = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      this.safe(() => this.handler.dropped?.(this, d), "dropped");
    }
    if (this.options.closeOnBackpressureLimit) this.close(1008, "backpressure limit");
    return -1;
  }

  private writeMessage(opcode: number, payload: Uint8Array, rsv1: boolean): SendResult {
    this.touchSend();
    const max = this.options.maxFrameSize;
    const mask = this.client;
    if (max > 0 && payload.length > max) {
      const frames = fragmentMessage(opcode as 1 | 2, payload, max, { rsv1, mask });
      const parts: Uint8Array[] = [];
      for (const [h, p] of frames) parts.push(h, p);
      return this.write(parts) ? 1 : 0;
    }
    if (payload.length <= 1024) {
      if (mask) return this.write(encodeFrameBytes(opcode as 1, payload, { rsv1, mask })) ? 1 : 0;
      // A small server frame is encoded straight into the connection's write memory.
      const length = payload.length;
      const frame = this.conn.allocate(frameHeaderSize(length, false) + length);
      const at = writeFrameHeader(frame, 0, { opcode: opcode as 1, length, rsv1 });
      frame.set(payload, at);
      return this.write(frame) ? 1 : 0;
    }
    return this.write(encodeFrame(opcode as 1, payload, { rsv1, mask })) ? 1 : 0;
  }

  private write(bytes: Uint8Array | readonly Uint8Array[]): boolean {
    return this.conn.write(bytes);
  }

  private touchSend(): void {
    if (this.options.resetIdleOnSend) this.lastReceived = this.owner.wheel.elapsed;
  }

  /** A control frame written now, or behind pending compressions. */
  private writeControl(opcode: number, payload: Uint8Array): void {
    this.queueWrite(encodeFrameBytes(opcode as 9, payload, { mask: this.client }));
  }

  private queueWrite(bytes: Uint8Array): void {
    if (this.tail === null) {
      this.write(bytes);
      return;
    }
    const next: Promise<void> = this.tail.then(() => {
      if (this.tail === next) this.tail = null;
      if (!this.conn.closed) this.write(bytes);
    });
    this.tail = next;
  }

  /** Ends the TCP connection once every queued message is written. */
  private endAfterQueue(): void {
    if (this.tail === null) {
      this.conn.end();
      return;
    }
    const next: Promise<void> = this.tail.then(() => {
      if (this.tail === next) this.tail = null;
      this.conn.end();
    });
    this.tail = next;
  }

  ping(data?: string | Uint8Array): void {
    if (this.state !== State.Open) return;
    this.writeControl(Opcode.Ping, data === undefined ? EMPTY : toBytes(data));
  }

  pong(data?: string | Uint8Array): void {
    if (this.state !== State.Open) return;
    this.writeControl(Opcode.Pong, data === undefined ? EMPTY : toBytes(data));
  }

  /** Sends a close frame after the queued messages; the connection ends when the peer answers (or after 2 s). */
  close(code = 1000, reason = ""): void {
    if (this.state !== State.Open) return;
    this.state = State.Closing;
    let frame: Uint8Array;
    try {
      frame = encodeCloseFrame(code === 1005 ? undefined : code, reason, { mask: this.client });
    } catch {
      frame = encodeCloseFrame(isValidCloseCode(code) ? code : 1000, "", { mask: this.client });
    }
    this.closeCode = code;
    this.closeReason = reason;
    this.closeSent = true;
    this.queueWrite(frame);
    // Wait for the peer's close frame, but not forever.
    if (this.timer === null)
      this.timer = this.owner.wheel.schedule(2000, onTimer, this as unknown as WsSocket) as unknown as Timer<never>;
    else this.owner.wheel.reschedule(this.timer, 2000);
  }

  terminate(): void {
    if (this.state === State.Closed) return;
    this.state = State.Closing;
    this.conn.destroy();
  }

  pause(): void {
    this.conn.pause();
  }
  resume(): void {
    this.conn.resume();
  }

  subscribe(topic: string): void {
    if (this.state === State.Closed) return;
    if (this.topicSet === null) this.topicSet = new Set();
    if (this.topicSet.has(topic)) return;
    this.topicSet.add(topic);
    this.owner.subscribe(this as unknown as WsSocket, topic);
  }

  unsubscribe(topic: string): void {
    if (this.topicSet?.delete(topic)) this.owner.unsubscribe(this as unknown as WsSocket, topic);
  }

  isSubscribed(topic: string): boolean {
    return this.topicSet?.has(topic) ?? false;
  }

  publish(topic: string, data: string | Uint8Array, options?: SendOptions): void {
    this.owner.publishFrom(this as unknown as WsSocket, topic, data, options);
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** The transport connection drained. */
  drained(): void {
    if (this.state === State.Open && this.handler.drain) this.safe(() => this.handler.drain?.(this), "drain");
  }

  /** Called when handler.open should run (after the 101 is written). */
  opened(request?: unknown): void {
    const outerSocket = openingSocket;
    const outerRequest = openingRequest;
    openingSocket = this;
    openingRequest = request;
    try {
      const h = this.handler.open;
      if (h !== undefined) {
        try {
          const r = h.call(this.handler, this);
          if (r !== undefined && typeof (r as Promise<void>).then === "function") {
            (r as Promise<void>).then(undefined, (e) => this.handlerFailed(e, "open"));
          }
        } catch (e) {
          this.handlerFailed(e, "open");
        }
      }
      this.owner.emitOpen?.(this, request);
    } finally {
      openingSocket = outerSocket;
      openingRequest = outerRequest;
    }
  }

  /** The transport connection is gone. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.state = State.Closed;
    if (this.timer !== null) this.owner.wheel.cancel(this.timer);
    if (this.topicSet !== null) {
      for (const t of this.topicSet) this.owner.unsubscribe(this as unknown as WsSocket, t);
      this.topicSet = null;
    }
    this.deflate?.close();
    const code = this.closeCode;
    const reason = this.closeReason;
    if (this.handler.close) {
      try {
        this.handler.close(this, code, reason);
      } catch (e) {
        this.owner.onError?.(e, "websocket close");
      }
    }
    this.owner.emitClose?.(this, code, reason);
    this.owner.socketClosed(this as unknown as WsSocket);
  }

  /** Milliseconds until the next timer check (0: no timer needed). */
  private nextDeadline(): number {
    // No closure here: it would cost a function and a scope per socket.
    const o = this.options;
    let next = 0;
    if (o.idleTimeoutMs > 0) next = o.idleTimeoutMs;
    const ping = o.pingIntervalMs;
    if (ping > 0 && (next === 0 || ping < next)) next = ping;
    const life = o.maxLifetimeMs;
    if (life > 0 && (next === 0 || life < next)) next = life;
    return next;
  }

  /** Timer check: closing deadline, lifetime, pong, ping, idle. */
  tick(): void {
    if (this.state === State.Closed) return;
    const now = this.owner.wheel.elapsed;
    if (this.state === State.Closing) {
      this.conn.destroy();
      return;
    }
    const o = this.options;
    if (o.maxLifetimeMs > 0 && now - this.openedAt >= o.maxLifetimeMs) {
      this.close(1000, "lifetime reached");
      return;
    }
    if (this.awaitingPong && now - this.pingSentAt >= o.pongTimeoutMs) {
      this.closeCode = 1006;
      this.closeReason = "no pong";
      this.close(1011, "no pong");
      this.endAfterQueue(); // the peer is not answering: do not wait for its close frame
      return;
    }
    const quiet = now - this.lastReceived;
    if (o.idleTimeoutMs > 0 && quiet >= o.idleTimeoutMs) {
      this.close(1001, "idle timeout");
      return;
    }
    let wait = o.idleTimeoutMs > 0 ? o.idleTimeoutMs - quiet : 0;
    if (o.pingIntervalMs > 0) {
      if (!this.awaitingPong && quiet >= o.pingIntervalMs) {
        this.awaitingPong = true;
        this.pingSentAt = now;
        this.writeControl(Opcode.Ping, EMPTY);
      }
      const w = this.awaitingPong ? o.pongTimeoutMs - (now - this.pingSentAt) : o.pingIntervalMs - quiet;
      if (wait === 0 || w < wait) wait = w;
    }
    if (o.maxLifetimeMs > 0) {
      const w = o.maxLifetimeMs - (now - this.openedAt);
      if (wait === 0 || w < wait) wait = w;
    }
    if (wait > 0 && this.timer !== null) this.owner.wheel.reschedule(this.timer, Math.max(1, wait));
  }
}

const EMPTY_SET: ReadonlySet<string> = new Set();

// Prototype defaults of the fields declared without an initialiser above.
Object.assign(WsSocket.prototype, {
  deflateParams: undefined,
  protocol: "",
  extensions: "",
  deflate: undefined,
  topicSet: null,
  decoder: null,
  tail: null,
  pendingBytes: 0,
  pendingSends: 0,
  openedAt: 0,
  pingSentAt: 0,
  closeCode: 1006,
  closeReason: "",
});

/** `bits`: the state in the low two bits, flags above. */
const STATE_MASK = 3;
const W_CLIENT = 4;
const W_DRAINING = 8;
const W_AWAITING_PONG = 16;
const W_CLOSE_SENT = 32;
const W_FINISHED = 64;

function onTimer(ws: WsSocket<unknown>): void {
  ws.tick();
}
