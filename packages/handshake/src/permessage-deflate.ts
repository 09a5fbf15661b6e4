/**
 * permessage-deflate (RFC 7692) for the handshake: thin adapters from the
 * extension seam to @wirehouse/codec's negotiation functions.
 */
import {
  acceptPerMessageDeflateResponse,
  createPerMessageDeflateOffer,
  type ExtensionOffer,
  type NegotiatedDeflate,
  negotiatePerMessageDeflate,
  type PerMessageDeflateOptions,
} from "@wirehouse/codec";
import type { ClientExtension, ExtensionNegotiator, NegotiatedExtension } from "./extensions.ts";

export type { NegotiatedDeflate, PerMessageDeflateOptions } from "@wirehouse/codec";

export const PERMESSAGE_DEFLATE_NAME = "permessage-deflate";

/** Server negotiator for permessage-deflate with the given limits and preferences. */
export function perMessageDeflate(options: PerMessageDeflateOptions = {}): ExtensionNegotiator<NegotiatedDeflate> {
  return {
    name: PERMESSAGE_DEFLATE_NAME,
    negotiate: (offers: ExtensionOffer[]) => negotiatePerMessageDeflate(offers, options),
  };
}

/** Client side of permessage-deflate: offers it and validates the answer. */
export function perMessageDeflateClient(options: PerMessageDeflateOptions = {}): ClientExtension<NegotiatedDeflate> {
  return {
    name: PERMESSAGE_DEFLATE_NAME,
    offer: () => [createPerMessageDeflateOffer(options)],
    accept: (response: ExtensionOffer) => acceptPerMessageDeflateResponse(response, options),
  };
}

/** The agreed permessage-deflate parameters among negotiated extensions, if any. */
export function findDeflate(extensions: readonly NegotiatedExtension[]): NegotiatedDeflate | undefined {
  for (const e of extensions) if (e.name === PERMESSAGE_DEFLATE_NAME) return e.params as NegotiatedDeflate;
  return undefined;
}
