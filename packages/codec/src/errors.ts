/**
 * The one typed protocol error, and the one place that maps error kinds to close codes.
 * @module
 */

/** Close codes used by this package (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
} as const;

/**
 * What went wrong, independent of the wire code:
 * - `protocol`: the peer broke RFC 6455 / RFC 7692 framing rules (1002)
 * - `invalid-data`: invalid UTF-8 in a text message or close reason (1007)
 * - `policy`: a policy the endpoint enforces (1008)
 * - `too-big`: a frame, message or decompressed message over a limit (1009)
 * - `extension`: a required extension was not negotiated (1010)
 * - `internal`: an unexpected condition, e.g. the deflate engine failed (1011)
 */
export type ErrorKind = "protocol" | "invalid-data" | "policy" | "too-big" | "extension" | "internal";

/** The single mapping from error kind to close code. */
export function closeCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case "protocol":
      return CloseCode.ProtocolError;
    case "invalid-data":
      return CloseCode.InvalidPayload;
    case "policy":
      return CloseCode.PolicyViolation;
    case "too-big":
      return CloseCode.MessageTooBig;
    case "extension":
      return CloseCode.MandatoryExtension;
    default:
      return CloseCode.InternalError;
  }
}

function kindForCode(code: number): ErrorKind {
  switch (code) {
    case 1002:
      return "protocol";
    case 1007:
      return "invalid-data";
    case 1008:
      return "policy";
    case 1009:
      return "too-big";
    case 1010:
      return "extension";
    default:
      return "internal";
  }
}

/**
 * A violation of the WebSocket protocol by the peer (or a limit it exceeded).
 * `closeCode` is the code to send in the close frame, `reason` a short human-readable
 * text (ASCII, ≤ 123 bytes, so it always fits in a close frame).
 */
export class ProtocolError extends Error {
  readonly closeCode: number;
  readonly reason: string;
  readonly kind: ErrorKind;

  /** `new ProtocolError("too-big", "…")` or `new ProtocolError(1009, "…")`. */
  constructor(kindOrCode: ErrorKind | number, reason: string) {
    super(reason);
    this.name = "ProtocolError";
    if (typeof kindOrCode === "number") {
      this.closeCode = kindOrCode;
      this.kind = kindForCode(kindOrCode);
    } else {
      this.kind = kindOrCode;
      this.closeCode = closeCodeFor(kindOrCode);
    }
    this.reason = reason;
  }
}

/**
 * RFC 6455 §7.4: may this code appear in a close frame on the wire?
 * 1000–1003, 1007–1014 (1012–1014 registered later by IANA) and 3000–4999.
 * 1004, 1005, 1006 and 1015 are reserved and MUST NOT be sent.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
