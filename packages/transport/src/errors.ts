/**
 * Errors the transport produces itself. Each carries a stable `code` so the
 * server can map it (to a close code, a log line, a counter) in one place.
 */
export type TransportErrorCode =
  | "ERR_WRITE_BUFFER_LIMIT"
  | "ERR_IDLE_TIMEOUT"
  | "ERR_SHUTDOWN_DEADLINE"
  | "ERR_TLS_SNI_UNSUPPORTED"
  | "ERR_TLS_HANDSHAKE"
  | "ERR_REUSE_PORT_UNSUPPORTED"
  | "ERR_ADAPTER_UNAVAILABLE"
  | "ERR_INVALID_OPTION";

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string) {
    super(message);
    this.name = "TransportError";
    this.code = code;
  }
}
