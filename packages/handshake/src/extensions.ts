/**
 * The extension seam of the WebSocket handshake: a list of negotiators,
 * one per extension name, tried in the server's order. permessage-deflate
 * (`perMessageDeflate()` in permessage-deflate.ts) is one thin negotiator
 * over @wirehouse/codec; other extensions plug in the same way.
 */
import type { ExtensionOffer } from "@wirehouse/codec";
import type { RequestHead } from "./request-head.ts";

export type { ExtensionOffer } from "@wirehouse/codec";

/** Server side: answers the client's offers for one extension. */
export interface ExtensionNegotiator<P = unknown> {
  /** The extension token, lower-case ("permessage-deflate"). */
  readonly name: string;
  /**
   * Picks among `offers` (all offers named `name`, in the client's order).
   * Returns the response element and the agreed parameters, or undefined to
   * decline. Throws (codec's `ProtocolError`) on an invalid offer; the
   * handshake then answers 400.
   */
  negotiate(offers: ExtensionOffer[], head: RequestHead): { response: ExtensionOffer; params: P } | undefined;
}

/** Client side: makes the offer for one extension and checks the server's answer. */
export interface ClientExtension<P = unknown> {
  readonly name: string;
  /** The offers to send (usually one). */
  offer(): ExtensionOffer[];
  /** Validates the server's response element; throws on an unacceptable answer. */
  accept(response: ExtensionOffer): P;
}

/** An extension both sides agreed on. */
export interface NegotiatedExtension<P = unknown> {
  readonly name: string;
  /** The element sent in (server) or received from (client) Sec-WebSocket-Extensions. */
  readonly response: ExtensionOffer;
  /** What the negotiator returned (for permessage-deflate: `NegotiatedDeflate`). */
  readonly params: P;
}
