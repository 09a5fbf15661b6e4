/**
 * The client side of the opening handshake (RFC 6455 §4.1): the request with
 * a random key, and the validation of the server's answer.
 */
import { formatExtensionHeader, parseExtensionHeader } from "@wirehouse/codec";
import { isToken, listHasToken, lowerAscii, splitList } from "./chars.ts";
import type { ClientExtension, ExtensionOffer, NegotiatedExtension } from "./extensions.ts";
import type { ResponseHead } from "./head-parser.ts";
import { writeRequestHead } from "./request-writer.ts";
import { forEachHeader, type HeadersInit } from "./response.ts";
import { sha1 as pureSha1, type Sha1 } from "./sha1.ts";
import { computeAcceptKey, generateWebSocketKey } from "./websocket-key.ts";

export interface ClientHandshakeOptions {
  /** Host field value ("example.com:8080"). */
  host: string;
  /** Request target, default "/". */
  path?: string;
  /** Origin field, as a browser would send it. */
  origin?: string;
  /** Subprotocols to offer, in preference order. */
  protocols?: readonly string[];
  /** Extensions to offer, e.g. `[perMessageDeflateClient()]`. */
  extensions?: readonly ClientExtension[];
  /** More request headers (Cookie, Authorization, …). */
  headers?: HeadersInit;
  /** Fills the 16-byte nonce; default `crypto.getRandomValues`. */
  random?: (bytes: Uint8Array) => void;
  /** SHA-1 for checking the accept value; default the pure-JS one. */
  sha1?: Sha1;
}

export interface ClientHandshake {
  /** The request bytes to send. */
  readonly request: Uint8Array;
  readonly key: string;
  /** The Sec-WebSocket-Accept value the server must answer with. */
  readonly expectedAccept: string;
  readonly protocols: readonly string[];
  readonly extensions: readonly ClientExtension[];
}

export interface ClientHandshakeResult {
  readonly protocol: string | undefined;
  readonly extensions: readonly NegotiatedExtension[];
  readonly headers: ResponseHead["headers"];
}

/** Why a server's handshake answer was refused (the client fails the connection, RFC 6455 §4.1). */
export class WebSocketHandshakeError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "WebSocketHandshakeError";
    this.status = status;
  }
}

const RESERVED = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/** Builds the opening handshake request (RFC 6455 §4.1 items 1–12). */
export function createClientHandshake(options: ClientHandshakeOptions): ClientHandshake {
  const key = generateWebSocketKey(options.random);
  const protocols = options.protocols ?? [];
  for (const p of protocols) if (!isToken(p)) throw new TypeError("invalid subprotocol " + JSON.stringify(p));
  const extensions = options.extensions ?? [];
  const fields: [string, string][] = [
    ["Host", options.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", "13"],
  ];
  if (options.origin !== undefined) fields.push(["Origin", options.origin]);
  if (protocols.length > 0) fields.push(["Sec-WebSocket-Protocol", protocols.join(", ")]);
  const offers: ExtensionOffer[] = [];
  for (const e of extensions) offers.push(...e.offer());
  if (offers.length > 0) fields.push(["Sec-WebSocket-Extensions", formatExtensionHeader(offers)]);
  forEachHeader(options.headers, (name, value) => {
    if (RESERVED.has(lowerAscii(name))) throw new TypeError("header " + name + " is set by the handshake");
    fields.push([name, value]);
  });
  const request = writeRequestHead({ method: "GET", target: options.path ?? "/", headers: fields });
  return { request, key, expectedAccept: computeAcceptKey(key, options.sha1 ?? pureSha1), protocols, extensions };
}

/**
 * RFC 6455 §4.1 (the client's checks of the response): 101, Upgrade and
 * Connection tokens, the exact accept value, a subprotocol only if offered,
 * extensions only if offered (each answered by its `ClientExtension`).
 * Throws `WebSocketHandshakeError`.
 */
export function validateServerHandshake(handshake: ClientHandshake, response: ResponseHead): ClientHandshakeResult {
  const fail = (message: string) => new WebSocketHandshakeError(message, response.status);
  if (response.status !== 101) throw fail("server answered " + response.status + " instead of 101");
  const h = response.headers;
  const upgrade = h.get("upgrade");
  if (upgrade === undefined || !listHasToken(upgrade, "websocket")) throw fail("missing Upgrade: websocket");
  const connection = h.get("connection");
  if (connection === undefined || !listHasToken(connection, "upgrade")) throw fail("missing Connection: Upgrade");
  const accepts = h.getAll("sec-websocket-accept");
  if (accepts.length !== 1 || accepts[0] !== handshake.expectedAccept) throw fail("wrong Sec-WebSocket-Accept");
  let protocol: string | undefined;
  const protocols = h.getAll("sec-websocket-protocol");
  if (protocols.length > 0) {
    if (protocols.length > 1 || !handshake.protocols.includes(protocols[0]!))
      throw fail("server chose a subprotocol that was not offered");
    protocol = protocols[0];
  }
  const extensions: NegotiatedExtension[] = [];
  const value = h.get("sec-websocket-extensions");
  if (value !== undefined) {
    let answered: ExtensionOffer[];
    try {
      answered = parseExtensionHeader(value);
    } catch (e) {
      throw fail("invalid Sec-WebSocket-Extensions: " + (e instanceof Error ? e.message : String(e)));
    }
    const seen = new Set<string>();
    for (const response of answered) {
      const ext = handshake.extensions.find((e) => e.name === response.name);
      if (ext === undefined) throw fail("server accepted extension " + response.name + " that was not offered");
      if (seen.has(response.name)) throw fail("server accepted extension " + response.name + " twice");
      seen.add(response.name);
      try {
        extensions.push({ name: response.name, response, params: ext.accept(response) });
      } catch (e) {
        throw fail("extension " + response.name + " refused: " + (e instanceof Error ? e.message : String(e)));
      }
    }
  }
  return { protocol, extensions, headers: h };
}

/** Splits a Sec-WebSocket-Protocol value into its tokens. */
export function parseProtocolList(value: string): string[] {
  return splitList(value);
}
