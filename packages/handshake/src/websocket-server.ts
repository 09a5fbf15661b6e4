/**
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2):
 * validate the upgrade request, pick a subprotocol, negotiate extensions,
 * then write the exact 101 response (or the exact error response).
 */
import { formatExtensionHeader, parseExtensionHeader } from "@wirehouse/codec";
import { isToken, listHasToken, lowerAscii, splitList } from "./chars.ts";
import { buildErrorResponse, type HeaderPair, HttpError } from "./errors.ts";
import type { ExtensionNegotiator, ExtensionOffer, NegotiatedExtension } from "./extensions.ts";
import { firstLower, getLower } from "./headers.ts";
import { allocate } from "./pool.ts";
import type { RequestHead } from "./request-head.ts";
import { checkHeaderName, checkHeaderValue, forEachHeader, type HeadersInit } from "./response.ts";
import { sha1 as pureSha1, type Sha1 } from "./sha1.ts";
import { isValidWebSocketKey, writeAcceptKey } from "./websocket-key.ts";

/** Chooses a subprotocol among those the client offered (or undefined for none). */
export type ProtocolSelector = (offered: readonly string[], head: RequestHead) => string | undefined;

export interface WebSocketServerOptions {
  /**
   * Subprotocols the server speaks, in its order of preference (the first
   * one the client offered wins), or a function choosing among the offers.
   */
  protocols?: readonly string[] | ProtocolSelector;
  /**
   * Extension negotiators in the server's order, e.g. `[perMessageDeflate()]`.
   * Without any, Sec-WebSocket-Extensions is ignored (not parsed, nothing agreed).
   */
  extensions?: readonly ExtensionNegotiator[];
  /** SHA-1 for the accept value. Default: the pure-JS one (see `@wirehouse/handshake/sha1-node`). */
  sha1?: Sha1;
}

/** A valid upgrade request and what was agreed; pass it to `acceptWebSocket` (after an accept hook). */
export interface WebSocketUpgrade {
  readonly head: RequestHead;
  readonly key: string;
  /** The Origin field, for an accept hook to check (RFC 6455 §10.2). */
  readonly origin: string | undefined;
  readonly offeredProtocols: readonly string[];
  /** The selected subprotocol, if any. */
  readonly protocol: string | undefined;
  readonly offeredExtensions: readonly ExtensionOffer[];
  /** Agreed extensions, in response order. */
  readonly extensions: readonly NegotiatedExtension[];
}

const ALLOW_GET: readonly (readonly [string, string])[] = [["Allow", "GET"]];
const VERSION_13: readonly (readonly [string, string])[] = [
  ["Upgrade", "websocket"],
  ["Sec-WebSocket-Version", "13"],
];

/** The (frozen) empty list of offers or agreements: most upgrades offer no subprotocol or extension. */
const NONE: readonly never[] = Object.freeze([]);

/** True when the request asks to switch to WebSocket (Connection: upgrade, Upgrade: websocket). */
export function isWebSocketRequest(head: RequestHead): boolean {
  if (!head.upgrade) return false;
  const upgrade = getLower(head.headers, "upgrade");
  return upgrade !== undefined && listHasToken(upgrade, "websocket");
}

/**
 * RFC 6455 §4.2.1: validates the opening handshake and negotiates.
 * Returns the agreed upgrade or the `HttpError` to answer with
 * (`errorResponse(error)` gives its exact bytes).
 */
export function negotiateWebSocket(
  head: RequestHead,
  options: WebSocketServerOptions = {},
): WebSocketUpgrade | HttpError {
  // §4.2.1 item 1: a GET, HTTP/1.1 or higher.
  if (head.method !== "GET") return new HttpError("websocket-method", "WebSocket handshake must use GET", ALLOW_GET);
  if (head.minor < 1) return new HttpError("websocket-http-version", "WebSocket handshake needs HTTP/1.1");
  const headers = head.headers;
  // Items 3–4: Upgrade lists "websocket", Connection lists "upgrade" (both case-insensitive tokens).
  const upgrade = getLower(headers, "upgrade");
  if (upgrade === undefined || !listHasToken(upgrade, "websocket")) {
    return new HttpError("websocket-upgrade", "missing or invalid Upgrade header");
  }
  const connection = getLower(headers, "connection");
  if (connection === undefined || !listHasToken(connection, "upgrade")) {
    return new HttpError("websocket-connection", "missing or invalid Connection header");
  }
  // Item 6 (§4.4): only version 13; otherwise 426 listing the version we speak.
  if (getLower(headers, "sec-websocket-version") !== "13") {
    return new HttpError("websocket-version", "unsupported WebSocket version", VERSION_13);
  }
  // Item 5: exactly one key, the base64 of 16 bytes. Repeated fields come
  // joined with ", ", which no valid key contains, so one lookup decides both.
  const key = getLower(headers, "sec-websocket-key");
  if (key === undefined || !isValidWebSocketKey(key)) {
    return new HttpError("websocket-key", "missing or invalid Sec-WebSocket-Key");
  }

  // Item 8: subprotocols, a list of tokens (no array at all when none are offered).
  let offeredProtocols: readonly string[] = NONE;
  const protocolValue = getLower(headers, "sec-websocket-protocol");
  if (protocolValue !== undefined) {
    offeredProtocols = splitList(protocolValue, []);
    for (const p of offeredProtocols) {
      if (!isToken(p)) return new HttpError("websocket-protocol", "invalid Sec-WebSocket-Protocol");
    }
  }
  let protocol: string | undefined;
  const select = options.protocols;
  if (offeredProtocols.length > 0 && select !== undefined) {
    if (typeof select === "function") {
      protocol = select(offeredProtocols, head);
      if (protocol !== undefined && !offeredProtocols.includes(protocol)) {
        throw new TypeError(
          "protocol selector returned " + JSON.stringify(protocol) + ", which the client did not offer",
        );
      }
    } else {
      for (const p of select) {
        if (offeredProtocols.includes(p)) {
          protocol = p;
          break;
        }
      }
    }
  }

  // Item 9: extensions, through the negotiators (RFC 6455 §9.1 syntax from the codec).
  // With no negotiators configured the header is not even parsed: nothing can be agreed.
  let offeredExtensions: readonly ExtensionOffer[] = NONE;
  let extensions: readonly NegotiatedExtension[] = NONE;
  const negotiators = options.extensions;
  const extensionValue =
    negotiators !== undefined && negotiators.length > 0 ? getLower(headers, "sec-websocket-extensions") : undefined;
  if (extensionValue !== undefined) {
    const list: NegotiatedExtension[] = [];
    extensions = list;
    try {
      offeredExtensions = parseExtensionHeader(extensionValue);
      if (negotiators !== undefined && offeredExtensions.length > 0) {
        for (const negotiator of negotiators) {
          const offers = offeredExtensions.filter((o) => o.name === negotiator.name);
          if (offers.length === 0) continue;
          const agreed = negotiator.negotiate(offers, head);
          if (agreed !== undefined)
            list.push({ name: negotiator.name, response: agreed.response, params: agreed.params });
        }
      }
    } catch (e) {
      if (e instanceof HttpError) return e;
      const reason = e instanceof Error ? e.message : String(e);
      return new HttpError("websocket-extensions", "invalid Sec-WebSocket-Extensions: " + reason);
    }
  }
  return {
    head,
    key,
    origin: firstLower(headers, "origin"),
    offeredProtocols,
    protocol,
    offeredExtensions,
    extensions,
  };
}

const PREFIX =
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
const textEncoder = new TextEncoder();
const PREFIX_BYTES = textEncoder.encode(PREFIX);
const ACCEPT_LENGTH = 28;
/** The whole 101 response without subprotocol, extensions or extra headers, the accept value left blank. */
const PLAIN_101 = textEncoder.encode(PREFIX + " ".repeat(ACCEPT_LENGTH) + "\r\n\r\n");
const RESERVED = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

export interface AcceptOptions {
  /** Extra response headers from the accept hook (Set-Cookie, …). */
  headers?: HeadersInit;
  /** Overrides the selected subprotocol (must be one the client offered; null for none). */
  protocol?: string | null;
  /** SHA-1 for the accept value. Default: the pure-JS one. */
  sha1?: Sha1;
}

/**
 * The exact 101 response: status line, Upgrade, Connection,
 * Sec-WebSocket-Accept, then Sec-WebSocket-Protocol and
 * Sec-WebSocket-Extensions when agreed, then the extra headers.
 * Extra headers are validated (no CR/LF/NUL; handshake fields are refused).
 */
export function acceptWebSocket(upgrade: WebSocketUpgrade, options: AcceptOptions = {}): Uint8Array {
  let protocol = upgrade.protocol;
  if (options.protocol !== undefined) {
    if (options.protocol !== null && !upgrade.offeredProtocols.includes(options.protocol)) {
      throw new TypeError("subprotocol " + JSON.stringify(options.protocol) + " was not offered");
    }
    protocol = options.protocol ?? undefined;
  }
  if (protocol === undefined && upgrade.extensions.length === 0 && options.headers === undefined) {
    // The common case: a copy of the template with the accept value written in.
    const out = allocate(PLAIN_101.length);
    out.set(PLAIN_101);
    writeAcceptKey(upgrade.key, out, PREFIX_BYTES.length, options.sha1 ?? pureSha1);
    return out;
  }
  let tail = "\r\n";
  let ascii = true;
  if (protocol !== undefined) tail += "Sec-WebSocket-Protocol: " + protocol + "\r\n";
  if (upgrade.extensions.length > 0) {
    tail += "Sec-WebSocket-Extensions: " + formatExtensionHeader(upgrade.extensions.map((e) => e.response)) + "\r\n";
  }
  forEachHeader(options.headers, (name, value) => {
    checkHeaderName(name);
    if (RESERVED.has(lowerAscii(name))) throw new TypeError("header " + name + " is set by the handshake");
    if (!checkHeaderValue(value, name)) ascii = false;
    tail += name + ": " + value + "\r\n";
  });
  tail += "\r\n";
  const p = PREFIX_BYTES.length;
  const out = allocate(p + ACCEPT_LENGTH + tail.length);
  out.set(PREFIX_BYTES, 0);
  writeAcceptKey(upgrade.key, out, p, options.sha1 ?? pureSha1);
  const t = p + ACCEPT_LENGTH;
  if (ascii && tail.length > 32) textEncoder.encodeInto(tail, out.subarray(t));
  else for (let i = 0; i < tail.length; i++) out[t + i] = tail.charCodeAt(i);
  return out;
}

/**
 * One step for servers without an accept hook: validates, negotiates and
 * answers. Returns the 101 bytes and the agreement, or the error.
 */
export function handleWebSocketUpgrade(
  head: RequestHead,
  options: WebSocketServerOptions & { headers?: HeadersInit } = {},
): { upgrade: WebSocketUpgrade; response: Uint8Array } | HttpError {
  const upgrade = negotiateWebSocket(head, options);
  if (upgrade instanceof HttpError) return upgrade;
  const accept: AcceptOptions = {};
  if (options.headers !== undefined) accept.headers = options.headers;
  if (options.sha1 !== undefined) accept.sha1 = options.sha1;
  return { upgrade, response: acceptWebSocket(upgrade, accept) };
}

/**
 * The exact bytes refusing an upgrade from an accept hook: `status` with
 * `reason` as the text body, `Connection: close`, and any extra headers
 * (validated: header injection is refused).
 */
export function rejectWebSocket(status: number, reason: string, headers: readonly HeaderPair[] = []): Uint8Array {
  return buildErrorResponse(status, reason, headers);
}
