/**
 * permessage-deflate (RFC 7692): negotiation (pure), the deflate engine interface, and a
 * per-connection session that compresses and decompresses whole messages through an engine.
 * @module
 */
import { ProtocolError } from "./errors.ts";
import type { ExtensionOffer } from "./extension.ts";

export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** Endpoint configuration for permessage-deflate. */
export interface PerMessageDeflateOptions {
  /** Server: always reset the server's compression context after each message. */
  serverNoContextTakeover?: boolean;
  /** Ask the client to reset its compression context after each message. */
  clientNoContextTakeover?: boolean;
  /** Upper bound (9–15) for the server's LZ77 window. */
  serverMaxWindowBits?: number;
  /** Upper bound (9–15) for the client's LZ77 window (server: offers without client_max_window_bits are declined). */
  clientMaxWindowBits?: number;
  /** Messages shorter than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** Decompressed messages larger than this close the connection with 1009 (default 64 MiB). */
  maxDecompressedSize?: number;
  /** zlib compression level 0–9 (engine default when omitted). */
  level?: number;
  /** zlib memLevel 1–9 (engine default when omitted). */
  memLevel?: number;
}

/** The parameters both ends agreed on (window bits are 8–15; 15 when not limited). */
export interface NegotiatedDeflate {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export const DEFAULT_THRESHOLD = 1024;
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024;

function invalid(reason: string): ProtocolError {
  return new ProtocolError("protocol", `invalid permessage-deflate parameters: ${reason}`);
}

/** RFC 7692 §7.1.2: a window-bits value is a decimal integer 8–15 without leading zeros. */
function windowBits(name: string, value: string | true): number {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) throw invalid(`${name}=${String(value)}`);
  return Number(value);
}

interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` = offered without a value. */
  clientMaxWindowBits: number | true | undefined;
}

/** Validates one permessage-deflate element (offer or response); throws ProtocolError (1002). */
function parseParams(element: ExtensionOffer, isResponse: boolean): ParsedParams {
  // RFC 7692 §7: an element with a repeated parameter is declined (offer) or fails (response).
  if (element.duplicate !== undefined) throw invalid(`duplicate parameter ${element.duplicate}`);
  const params = element.params;
  const out: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [key, value] of Object.entries(params)) {
    switch (key) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        // RFC 7692 §7.1.1: these parameters have no value.
        if (value !== true) throw invalid(`${key} takes no value`);
        if (key === "server_no_context_takeover") out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        out.serverMaxWindowBits = windowBits(key, value);
        break;
      case "client_max_window_bits":
        // RFC 7692 §7.1.2.2: in an offer it may have no value; in a response it must have one.
        if (value === true && !isResponse) out.clientMaxWindowBits = true;
        else out.clientMaxWindowBits = windowBits(key, value);
        break;
      default:
        throw invalid(`unknown parameter ${key}`);
    }
  }
  return out;
}

function checkBitsOption(name: string, bits: number | undefined): void {
  if (bits !== undefined && (!Number.isInteger(bits) || bits < 9 || bits > 15)) {
    throw new RangeError(`${name} must be an integer 9–15`);
  }
}

/**
 * Server side (RFC 7692 §5, §7): picks the first acceptable permessage-deflate offer among
 * `offers` (other extensions are ignored) and returns the agreed parameters and the response
 * element for Sec-WebSocket-Extensions, or undefined when no offer is acceptable. An invalid
 * offer (an unknown parameter, an invalid value, a repeated parameter) is declined like an
 * unsupported one, as RFC 7692 §7 requires: the next offer is tried, and with none left the
 * connection opens without compression.
 */
export function negotiatePerMessageDeflate(
  offers: ExtensionOffer[],
  options: PerMessageDeflateOptions = {},
): { params: NegotiatedDeflate; response: ExtensionOffer } | undefined {
  checkBitsOption("serverMaxWindowBits", options.serverMaxWindowBits);
  checkBitsOption("clientMaxWindowBits", options.clientMaxWindowBits);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    let p: ParsedParams;
    try {
      p = parseParams(offer, false);
    } catch {
      continue; // invalid: declined
    }
    // A 256-byte window (8) cannot be produced by zlib's raw deflate (it silently uses 9),
    // so an offer demanding it is declined rather than answered with a broken promise.
    if (p.serverMaxWindowBits === 8) continue;
    // We can only limit the client's window if the client says it supports that (§7.1.2.2).
    if (
      options.clientMaxWindowBits !== undefined &&
      options.clientMaxWindowBits < 15 &&
      p.clientMaxWindowBits === undefined
    ) {
      continue;
    }
    const response: ExtensionOffer = { name: PERMESSAGE_DEFLATE, params: {} };
    const serverNoContextTakeover = p.serverNoContextTakeover || options.serverNoContextTakeover === true;
    const clientNoContextTakeover = p.clientNoContextTakeover || options.clientNoContextTakeover === true;
    if (serverNoContextTakeover) response.params.server_no_context_takeover = true;
    if (clientNoContextTakeover) response.params.client_no_context_takeover = true;
    const serverBits = Math.min(p.serverMaxWindowBits ?? 15, options.serverMaxWindowBits ?? 15);
    if (p.serverMaxWindowBits !== undefined || serverBits < 15)
      response.params.server_max_window_bits = String(serverBits);
    let clientBits = 15;
    if (p.clientMaxWindowBits !== undefined) {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      clientBits = Math.min(offered, options.clientMaxWindowBits ?? 15);
      if (p.clientMaxWindowBits !== true || clientBits < 15)
        response.params.client_max_window_bits = String(clientBits);
    }
    return {
      params: {
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
      response,
    };
  }
  return undefined;
}

/** Client side: the offer to send (always advertises client_max_window_bits support). */
export function createPerMessageDeflateOffer(options: PerMessageDeflateOptions = {}): ExtensionOffer {
  checkBitsOption("serverMaxWindowBits", options.serverMaxWindowBits);
  checkBitsOption("clientMaxWindowBits", options.clientMaxWindowBits);
  const params: Record<string, string | true> = {};
  if (options.serverNoContextTakeover) params.server_no_context_takeover = true;
  if (options.clientNoContextTakeover) params.client_no_context_takeover = true;
  if (options.serverMaxWindowBits !== undefined) params.server_max_window_bits = String(options.serverMaxWindowBits);
  params.client_max_window_bits =
    options.clientMaxWindowBits !== undefined ? String(options.clientMaxWindowBits) : true;
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * Client side: validates the server's response to {@link createPerMessageDeflateOffer}
 * (RFC 7692 §7.1) and returns the agreed parameters. Throws ProtocolError (1002) when the
 * response is invalid or not compatible with what was offered (the client fails the connection).
 */
export function acceptPerMessageDeflateResponse(
  response: ExtensionOffer,
  options: PerMessageDeflateOptions = {},
): NegotiatedDeflate {
  if (response.name !== PERMESSAGE_DEFLATE) throw invalid(`unexpected extension ${response.name}`);
  const p = parseParams(response, true);
  if (options.serverNoContextTakeover && !p.serverNoContextTakeover) {
    throw invalid("server_no_context_takeover was requested but not accepted");
  }
  if (
    p.serverMaxWindowBits !== undefined &&
    options.serverMaxWindowBits !== undefined &&
    p.serverMaxWindowBits > options.serverMaxWindowBits
  ) {
    throw invalid("server_max_window_bits larger than offered");
  }
  if (options.serverMaxWindowBits !== undefined && p.serverMaxWindowBits === undefined) {
    throw invalid("server_max_window_bits was requested but not accepted");
  }
  const clientBits = typeof p.clientMaxWindowBits === "number" ? p.clientMaxWindowBits : 15;
  if (options.clientMaxWindowBits !== undefined && clientBits > options.clientMaxWindowBits) {
    throw invalid("client_max_window_bits larger than offered");
  }
  if (clientBits === 8) throw invalid("client_max_window_bits=8 is not supported by the deflate engine");
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    clientNoContextTakeover: p.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
  };
}

/** A raw-deflate compressor that keeps its history between calls until `reset()`. */
export interface Compressor {
  /** Compresses `data` and ends with a sync flush, so the output ends with 00 00 ff ff. */
  compress(data: Uint8Array): Promise<Uint8Array>;
  /** Forgets the history (no context takeover). */
  reset(): void;
  /** Frees the engine's resources. */
  close(): void;
}

/** A raw-inflate decompressor that keeps its history between calls until `reset()`. */
export interface Decompressor {
  /**
   * Inflates `data` (which ends with a sync-flush tail). Resolves `undefined` as soon as the
   * output would exceed `maxOutput` bytes, without inflating the rest; the decompressor is
   * then unusable (close it). Rejects when the data is not valid deflate.
   */
  decompress(data: Uint8Array, maxOutput: number): Promise<Uint8Array | undefined>;
  reset(): void;
  close(): void;
}

/** A deflate implementation (the default, node:zlib, is in `@wirehouse/codec/deflate`). */
export interface DeflateEngine {
  createCompressor(options: { windowBits: number; level?: number; memLevel?: number }): Compressor;
  createDecompressor(options: { windowBits: number }): Decompressor;
}

export type Role = "server" | "client";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * One connection's permessage-deflate state: compresses outgoing and decompresses incoming
 * messages in call order (each direction is serialized internally), applying the agreed
 * context-takeover and window parameters for `role`. Engines are created on first use.
 */
export class PerMessageDeflate {
  readonly params: NegotiatedDeflate;
  readonly role: Role;
  readonly threshold: number;
  readonly maxDecompressedSize: number;
  private readonly engine: DeflateEngine;
  private readonly options: PerMessageDeflateOptions;
  private compressor: Compressor | undefined;
  private decompressor: Decompressor | undefined;
  private sendQueue: Promise<unknown> = Promise.resolve();
  private receiveQueue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(engine: DeflateEngine, params: NegotiatedDeflate, role: Role, options: PerMessageDeflateOptions = {}) {
    this.engine = engine;
    this.params = params;
    this.role = role;
    this.options = options;
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.maxDecompressedSize = options.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED_SIZE;
  }

  /** Whether a message of `length` bytes should be compressed (length ≥ threshold). */
  shouldCompress(length: number): boolean {
    return length >= this.threshold;
  }

  /**
   * Compresses one whole message: the result is the payload to send with RSV1 set on the
   * first frame only (RFC 7692 §6.1), with the 00 00 ff ff tail removed (§7.2.1).
   * Calls resolve in call order.
   */
  compress(data: Uint8Array): Promise<Uint8Array> {
    const run = this.sendQueue.then(() => this.compressNow(data));
    this.sendQueue = run.catch(() => undefined);
    return run;
  }

  private async compressNow(data: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new Error("permessage-deflate session is closed");
    const server = this.role === "server";
    if (this.compressor === undefined) {
      this.compressor = this.engine.createCompressor({
        windowBits: server ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits,
        level: this.options.level,
        memLevel: this.options.memLevel,
      });
    }
    let out = await this.compressor.compress(data);
    const n = out.length;
    if (n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff && out[n - 1] === 0xff) {
      out = out.subarray(0, n - 4);
    }
    if (server ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover) this.compressor.reset();
    return out;
  }

  /**
   * Decompresses one whole message's payload (all frames joined). Rejects with
   * ProtocolError 1009 as soon as the output exceeds `maxSize` (default
   * `maxDecompressedSize`) without inflating the rest, and with 1007 on corrupt data.
   * Calls resolve in call order.
   */
  decompress(data: Uint8Array, maxSize: number = this.maxDecompressedSize): Promise<Uint8Array> {
    const run = this.receiveQueue.then(() => this.decompressNow(data, maxSize));
    this.receiveQueue = run.catch(() => undefined);
    return run;
  }

  private async decompressNow(data: Uint8Array, maxSize: number): Promise<Uint8Array> {
    if (this.closed) throw new ProtocolError("internal", "permessage-deflate session is closed");
    const server = this.role === "server";
    if (this.decompressor === undefined) {
      this.decompressor = this.engine.createDecompressor({
        windowBits: Math.max(9, server ? this.params.clientMaxWindowBits : this.params.serverMaxWindowBits),
      });
    }
    // RFC 7692 §7.2.2: append 00 00 ff ff before inflating.
    const input = new Uint8Array(data.length + 4);
    input.set(data, 0);
    input.set(TAIL, data.length);
    let out: Uint8Array | undefined;
    try {
      out = await this.decompressor.decompress(input, maxSize);
    } catch {
      this.dropDecompressor();
      throw new ProtocolError("invalid-data", "invalid compressed data");
    }
    if (out === undefined) {
      this.dropDecompressor();
      throw new ProtocolError("too-big", "decompressed message too big");
    }
    if (server ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover) this.decompressor.reset();
    return out;
  }

  private dropDecompressor(): void {
    this.decompressor?.close();
    this.decompressor = undefined;
  }

  /** Frees both engines; further calls fail. */
  close(): void {
    this.closed = true;
    this.compressor?.close();
    this.compressor = undefined;
    this.dropDecompressor();
  }
}
