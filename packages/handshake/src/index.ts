/**
 * @module @wirehouse/handshake
 *
 * HTTP/1.1 request heads, bodies and response heads, and the WebSocket
 * opening handshake (RFC 9112, RFC 6455 §4), sans-I/O over bytes with
 * web-standard APIs only. SHA-1 through node:crypto is in the separate entry
 * point `@wirehouse/handshake/sha1-node`; a pure-JS SHA-1 is included here.
 */
export {
  type BodyData,
  BodyDecoder,
  type BodyFailed,
  type BodyLimits,
  type BodyResult,
  CRLF,
  chunkHeader,
  concat,
  DEFAULT_BODY_LIMITS,
  decodeBody,
  encodeChunk,
  LAST_CHUNK,
  lastChunk,
  validChunkExtensions,
} from "./body.ts";
export { isToken, listHasToken, splitList } from "./chars.ts";
export { type Clock, defaultHttpDate, formatHttpDate, HttpDate } from "./date.ts";
export {
  buildErrorResponse,
  errorResponse,
  type HeaderPair,
  HTTP_ERROR_STATUS,
  HttpError,
  type HttpErrorCode,
} from "./errors.ts";
export type {
  ClientExtension,
  ExtensionNegotiator,
  ExtensionOffer,
  NegotiatedExtension,
} from "./extensions.ts";
export {
  isValidBoundary,
  type MediaType,
  type MultipartEvent,
  type MultipartField,
  type MultipartLimits,
  MultipartParser,
  type MultipartPart,
  type MultipartResult,
  parseJson,
  parseMediaType,
  parseMultipart,
  parseUrlEncoded,
} from "./forms.ts";
export {
  DEFAULT_HEAD_LIMITS,
  type HeadFailed,
  type HeadLimits,
  type HeadParsed,
  type HeadResult,
  NEED_MORE,
  type NeedMore,
  parseFieldLines,
  parseRequest,
  parseResponse,
  RequestParser,
  type RequestParserOptions,
  type ResponseHead,
  ResponseParser,
} from "./head-parser.ts";
export { HeaderList } from "./headers.ts";
export {
  findDeflate,
  type NegotiatedDeflate,
  PERMESSAGE_DEFLATE_NAME,
  type PerMessageDeflateOptions,
  perMessageDeflate,
  perMessageDeflateClient,
} from "./permessage-deflate.ts";
export { type BodyKind, parseCookies, RequestHead, type TargetForm } from "./request-head.ts";
export { type RequestHeadInit, writeRequestHead } from "./request-writer.ts";
export {
  CONTINUE_RESPONSE,
  checkHeaderName,
  checkHeaderValue,
  HeaderInjectionError,
  type HeadersInit,
  type RequestInfo,
  type ResponseHeadBytes,
  type ResponseHeadInit,
  writeResponseHead,
} from "./response.ts";
export { type Sha1, sha1 } from "./sha1.ts";
export { STATUS_TEXT, statusText } from "./status.ts";
export {
  type ClientHandshake,
  type ClientHandshakeOptions,
  type ClientHandshakeResult,
  createClientHandshake,
  validateServerHandshake,
  WebSocketHandshakeError,
} from "./websocket-client.ts";
export {
  computeAcceptKey,
  generateWebSocketKey,
  isValidWebSocketKey,
  WEBSOCKET_GUID,
} from "./websocket-key.ts";
export {
  type AcceptOptions,
  acceptWebSocket,
  handleWebSocketUpgrade,
  isWebSocketRequest,
  negotiateWebSocket,
  type ProtocolSelector,
  rejectWebSocket,
  type WebSocketServerOptions,
  type WebSocketUpgrade,
} from "./websocket-server.ts";
