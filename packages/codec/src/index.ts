/**
 * @module @wirehouse/codec
 *
 * RFC 6455 WebSocket frames and RFC 7692 permessage-deflate, sans-I/O: an encoder of pure
 * functions, an incremental decoder (bytes in, events out) and extension negotiation.
 * The node:zlib deflate engine is in the separate entry point `@wirehouse/codec/deflate`.
 */

export {
  closeFrameFor,
  concatFrame,
  type EncodedFrame,
  type EncodeOptions,
  encodeCloseFrame,
  encodeClosePayload,
  encodeFrame,
  encodeFrameBytes,
  encodeFrameHeader,
  type FrameHeaderOptions,
  fragmentMessage,
  frameHeaderSize,
  MAX_CLOSE_REASON_BYTES,
  truncateReason,
  writeFrameHeader,
} from "./encoder.ts";
export {
  CloseCode,
  closeCodeFor,
  type ErrorKind,
  isValidCloseCode,
  ProtocolError,
} from "./errors.ts";
export { type ExtensionOffer, formatExtensionHeader, isToken, parseExtensionHeader } from "./extension.ts";
export { FrameDecoder, FrameEvent } from "./frame-decoder.ts";
export { mask, maskRange, randomMaskKey, unmask, writeRandomMaskKey } from "./mask.ts";
export {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  DecoderEvent,
  type DecoderOptions,
  FRAGMENT_OVERHEAD,
  MessageDecoder,
} from "./message-decoder.ts";
export { isControlOpcode, isKnownOpcode, Opcode } from "./opcode.ts";
export {
  acceptPerMessageDeflateResponse,
  type Compressor,
  createPerMessageDeflateOffer,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  DEFAULT_THRESHOLD,
  type Decompressor,
  type DeflateEngine,
  type NegotiatedDeflate,
  negotiatePerMessageDeflate,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  type Role,
} from "./permessage-deflate.ts";
export { isValidUtf8, UTF8_INVALID, type Utf8State, Utf8Validator, utf8Step } from "./utf8.ts";
