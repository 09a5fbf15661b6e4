/**
 * The client: `connect(url, options)` for ws:// and wss://, with the same socket
 * API as server-side sockets (the handshake from @wirehouse/handshake, frames in
 * the codec's client role: masked on the way out).
 */
import { createPerMessageDeflate } from "@wirehouse/codec/deflate";
import {
  createClientHandshake,
  findDeflate,
  perMessageDeflateClient,
  ResponseParser,
  sha1 as sha1Js,
  validateServerHandshake,
} from "@wirehouse/handshake";
import {
  type ClientTlsOptions,
  type Connection,
  runtime,
  TimerWheel,
  connect as transportConnect,
} from "@wirehouse/transport";
import { resolveWsOptions } from "./server.ts";
import type { DeflateOptions, WebSocket, WebSocketHandler, WebSocketOptions } from "./types.ts";
import { type SocketOwner, type WsEndpoint, WsSocket } from "./websocket.ts";

export interface ConnectOptions<T = unknown>
  extends Pick<
    WebSocketOptions,
    "maxPayload" | "idleTimeout" | "pingInterval" | "pongTimeout" | "autoPong" | "maxBackpressure" | "maxFrameSize"
  > {
  /** Callbacks: open, message, drain, ping, pong, close (same as a server endpoint's handler). */
  handler?: WebSocketHandler<T>;
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Offer permessage-deflate. Default false. */
  deflate?: boolean | DeflateOptions;
  origin?: string;
  headers?: [string, string][];
  /** wss:// options (CA, servername). */
  tls?: ClientTlsOptions;
  /** Initial `ws.data`. */
  data?: T;
  /** Handshake time limit in ms. Default 10 s. */
  timeoutMs?: number;
}

let clientWheel: TimerWheel | null = null;

const owner: SocketOwner = {
  get wheel() {
    clientWheel ??= new TimerWheel({ tickMs: 50 });
    return clientWheel;
  },
  socketClosed() {},
  subscribe() {},
  unsubscribe() {},
  publishFrom() {},
};

interface ClientState {
  ws: WsSocket | null;
}

/** Opens a WebSocket connection; resolves once the handshake is done (after `handler.open`). */
export function connect<T = unknown>(url: string | URL, options: ConnectOptions<T> = {}): Promise<WebSocket<T>> {
  const u = new URL(url);
  const secure = u.protocol === "wss:" || u.protocol === "https:";
  if (!secure && u.protocol !== "ws:" && u.protocol !== "http:") {
    return Promise.reject(new TypeError(`unsupported URL scheme ${u.protocol}`));
  }
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const deflate = options.deflate === true ? {} : options.deflate ? options.deflate : null;
  const hs = createClientHandshake({
    host: u.host,
    path: (u.pathname || "/") + u.search,
    origin: options.origin,
    protocols: options.protocols,
    extensions: deflate ? [perMessageDeflateClient(deflate)] : [],
    headers: options.headers,
    sha1: sha1Js,
  });
  const wsOptions = resolveWsOptions({ idleTimeout: 0, ...options });
  const copy = runtime === "deno";
  const handler = options.handler ?? {};
  const endpoint: WsEndpoint<T> = { owner, handler: handler as WebSocketHandler<T>, options: wsOptions };
  return new Promise<WebSocket<T>>((resolve, reject) => {
    const parser = new ResponseParser();
    let settled = false;
    const fail = (error: Error, conn?: Connection<ClientState>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn?.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error("websocket handshake timed out")), options.timeoutMs ?? 10_000);
    transportConnect<ClientState>(
      { port, hostname, tls: secure ? (options.tls ?? true) : undefined },
      {
        open(conn) {
          conn.state = { ws: null };
        },
        data(conn, bytes) {
          const state = conn.state as ClientState;
          if (state.ws !== null) {
            state.ws.receive(bytes, copy);
            return;
          }
          if (settled) return;
          const r = parser.push(bytes);
          if (r.kind === "need-more") return;
          if (r.kind === "error") return fail(new Error(`bad handshake response: ${r.error.message}`), conn);
          let result: ReturnType<typeof validateServerHandshake>;
          try {
            result = validateServerHandshake(hs, r.head);
          } catch (e) {
            return fail(e as Error, conn);
          }
          const params = findDeflate(result.extensions);
          const z = params ? createPerMessageDeflate(params, "client", deflate ?? {}) : undefined;
          const ws = new WsSocket<T>(
            conn as Connection<unknown>,
            endpoint,
            "client",
            options.data as T,
            result.protocol ?? "",
            result.headers.get("sec-websocket-extensions") ?? "",
            z,
          );
          state.ws = ws as WsSocket;
          settled = true;
          clearTimeout(timer);
          ws.opened();
          resolve(ws);
          const rest = bytes.subarray(r.consumed);
          if (rest.length > 0) ws.receive(rest, copy);
        },
        drain(conn) {
          conn.state?.ws?.drained();
        },
        close(conn, error) {
          const ws = conn.state?.ws;
          if (ws) ws.finish();
          else fail(error ?? new Error("connection closed during the websocket handshake"));
        },
      },
    ).then(
      (conn) => {
        if (!settled) conn.write(hs.request);
        else conn.destroy();
      },
      (e) => fail(e as Error),
    );
  });
}
