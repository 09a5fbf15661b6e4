/**
 * The per-connection HTTP/1.x state machine: head → (body) → handler → response,
 * one request at a time so pipelined responses go out strictly in order (bytes of
 * later requests wait, copied, while reading is paused). Upgrades hand the
 * connection to a WsSocket. Every timeout is one reusable timer on the server's wheel.
 */
import {
  BodyDecoder,
  buildErrorResponse,
  CONTINUE_RESPONSE,
  CRLF,
  chunkHeader,
  errorResponse,
  HttpError,
  isWebSocketRequest,
  LAST_CHUNK,
  type RequestHead,
  RequestParser,
  type ResponseHeadBytes,
  writeResponseHead,
} from "@wirehouse/handshake";
import { isPathError, normalizePath } from "@wirehouse/router";
import type { Connection, Timer } from "@wirehouse/transport";
import { BodySource, Request } from "./request.ts";
import { bodyAllowed, buildResponse, builtBody, type HeaderInput, withDefaults } from "./response-head.ts";
import type { ServerCore } from "./server.ts";
import type { ResponseInit, ResponseLike } from "./types.ts";
import type { WsSocket } from "./websocket.ts";

export const RESPONSE_404 = buildErrorResponse(404, "Not Found");
export const RESPONSE_408 = buildErrorResponse(408, "Request Timeout");
export const RESPONSE_500 = buildErrorResponse(500, "Internal Server Error");
export const RESPONSE_503 = buildErrorResponse(503, "Service Unavailable");
/** A handler that did not respond within its time limit (see `ServerLimits.handlerTimeoutMs`). */
export const RESPONSE_503_TIMEOUT = buildErrorResponse(503, "Service Unavailable: the handler timed out");
/** Head time limit of a connection over `maxConnections` (it only gets a 503). */
const OVER_LIMIT_HEAD_MS = 2000;

enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head = 0,
  /** Reading a body. */
  Body = 1,
  /** The handler runs or the response is being written. */
  Busy = 2,
  /** Between keep-alive requests. */
  Idle = 3,
  /** Upgraded to WebSocket. */
  Ws = 4,
  Closed = 5,
}

/** Byte bodies and stream pieces larger than this are written in slices of this size (see writeSliced). */
const BODY_SLICE = 1024 * 1024;

export class HttpConnection {
  private phase = Phase.Idle;
  private parser: RequestParser;
  private body: BodyDecoder | null = null;
  /** The body of the request being handled, streamed to the handler as it arrives. */
  private bodySource: BodySource | null = null;
  /** The response was completely written while the request body was still arriving. */
  private responseDone = false;
  /** The response head was written (errors can no longer be answered with a status). */
  responseStarted = false;
  private head: RequestHead | null = null;
  /** Bytes received while busy (pipelined requests), copied. */
  private pending: Uint8Array | null = null;
  private readonly timer: Timer<never>;
  /** The handler time limit of the request being handled (only while an asynchronous handler runs). */
  private handlerTimer: Timer<never> | null = null;
  /** The request being handled, until its response is complete (to abort its signal). */
  request: Request | null = null;
  ws: WsSocket | null = null;
  /** Resolves the current streamed body's wait for drain. */
  drainWaiter: (() => void) | null = null;
  closeAfter = false;

  constructor(
    readonly server: ServerCore,
    readonly conn: Connection<unknown>,
    readonly https: boolean,
    /** The transport may reuse a chunk's memory after data() returns (Deno). */
    readonly copyChunks: boolean,
    /** Over `maxConnections`: the request head is answered 503 and the connection closed. */
    readonly overLimit = false,
  ) {
    this.parser = new RequestParser(server.headLimits);
    this.timer = server.wheel.schedule(
      overLimit ? Math.min(server.limits.headTimeoutMs, OVER_LIMIT_HEAD_MS) : server.limits.headTimeoutMs,
      onTimeout,
      this as HttpConnection,
    ) as unknown as Timer<never>;
    this.phase = Phase.Head;
  }

  /** Bytes from the transport. */
  data(chunk: Uint8Array): void {
    if (this.phase === Phase.Ws) {
      (this.ws as WsSocket).receive(chunk, this.copyChunks);
      return;
    }
    if (this.phase === Phase.Busy) {
      this.stash(chunk);
      return;
    }
    this.process(chunk);
  }

  private stash(chunk: Uint8Array): void {
    if (this.pending === null) this.pending = chunk.slice();
    else {
      const joined = new Uint8Array(this.pending.length + chunk.length);
      joined.set(this.pending);
      joined.set(chunk, this.pending.length);
      this.pending = joined;
    }
    this.conn.pause();
  }

  private process(chunk: Uint8Array): void {
    const server = this.server;
    while (chunk.length > 0) {
      if (this.phase === Phase.Closed || this.phase === Phase.Ws) return;
      if (this.phase === Phase.Busy) {
        this.stash(chunk);
        return;
      }
      if (this.phase === Phase.Idle) {
        this.phase = Phase.Head;
        server.wheel.reschedule(this.timer, server.limits.headTimeoutMs);
      }
      if (this.phase === Phase.Body) {
        const body = this.body as BodyDecoder;
        const r = body.push(chunk);
        if (r.kind === "error") {
          this.bodyFailed(r.error);
          return;
        }
        const source = this.bodySource;
        // Chunks outlive this call (the handler reads them later): copy where the transport reuses memory.
        if (source !== null) for (const c of r.chunks) source.push(this.copyChunks ? c.slice() : c);
        chunk = chunk.subarray(r.consumed);
        if (!r.done) {
          server.wheel.reschedule(this.timer, server.limits.bodyTimeoutMs);
          return;
        }
        this.body = null;
        this.bodySource = null;
        source?.end();
        if (this.responseDone) {
          this.done();
          continue;
        }
        this.phase = Phase.Busy;
        server.wheel.cancel(this.timer);
        if (chunk.length > 0) this.stash(chunk);
        return;
      }
      // Phase.Head
      const r = this.parser.push(chunk);
      if (r.kind === "need-more") return;
      if (r.kind === "error") {
        this.fail(r.error);
        return;
      }
      const head = r.head;
      chunk = chunk.subarray(r.consumed);
      this.head = head;
      if (this.overLimit) {
        server.logError(head, 503, this.conn);
        this.writeRaw(server.unavailable, true);
        return;
      }
      if (head.bodyKind !== "none" && !isWebSocketRequest(head)) {
        const body = BodyDecoder.forRequest(head, { maxBodySize: server.limits.maxBodySize });
        if (body.error) {
          this.fail(body.error);
          return;
        }
        if (head.expectContinue) this.conn.write(CONTINUE_RESPONSE);
        this.body = body;
        this.bodySource = new BodySource();
        this.phase = Phase.Body;
        server.wheel.reschedule(this.timer, server.limits.bodyTimeoutMs);
        // The handler runs now and reads the body as it arrives.
        server.handle(this, head, this.bodySource);
        continue;
      }
      if (isWebSocketRequest(head)) {
        // Everything after the head belongs to the WebSocket (or is garbage if refused).
        this.phase = Phase.Busy;
        server.wheel.cancel(this.timer);
        const rest = chunk.length > 0 ? chunk.slice() : null;
        server.upgrade(this, head, rest);
        return;
      }
      this.startRequest();
    }
  }

  private startRequest(): void {
    const head = this.head as RequestHead;
    this.phase = Phase.Busy;
    this.server.wheel.cancel(this.timer);
    this.server.handle(this, head, null);
  }

  /** A bad or oversized body: answer its status if no response was started, else drop the connection. */
  private bodyFailed(error: HttpError): void {
    this.bodySource?.fail(error);
    this.bodySource = null;
    this.body = null;
    if (this.responseStarted) {
      this.phase = Phase.Closed;
      this.server.wheel.cancel(this.timer);
      this.conn.destroy();
      return;
    }
    this.fail(error);
  }

  /** Builds the request object (or answers 400 for a bad path). */
  makeRequest(head: RequestHead, body: BodySource | null): Request | null {
    const path = normalizePath(head.path);
    if (isPathError(path)) {
      this.fail(new HttpError("bad-target", path.reason, [], 400));
      return null;
    }
    const req = new Request(head, path, this.conn, this.https);
    req.bodySource = body;
    this.request = req;
    return req;
  }

  /** Writes an error response (prebuilt bytes) and closes. */
  fail(error: HttpError): void {
    this.server.logError(this.head, error.status, this.conn);
    this.writeRaw(errorResponse(error), true);
  }

  /** Writes complete response bytes; `close` ends the connection afterwards. */
  writeRaw(bytes: Uint8Array, close: boolean): void {
    if (this.phase === Phase.Closed) return;
    this.cancelHandlerTimer();
    if (this.request !== null) {
      // An error answer (408, 413, …) for a request whose handler may still run: give it up.
      this.request.abort(new Error("the request was answered with an error response"));
      this.request = null;
    }
    this.conn.write(bytes);
    if (close) this.shutdown();
    else this.finished();
  }

  private shutdown(): void {
    this.phase = Phase.Closed;
    this.server.wheel.cancel(this.timer);
    this.pending = null;
    this.conn.end();
  }

  /**
   * Sends a handler's response (any shape) for `head`, then continues with the next request.
   * Bytes, strings and objects with such a body are answered synchronously (no promise per
   * request), with the head built once for answers that repeat (see response-head.ts); a
   * fetch `Response` or a streamed body takes the asynchronous path.
   */
  respond(head: RequestHead, res: ResponseInit | ResponseLike | string | Uint8Array, startedAt: number): void {
    if (this.phase === Phase.Closed || head !== this.head) {
      // A late response (the handler timed out, or the connection is gone): drop it.
      if (res !== null && typeof res === "object" && !(res instanceof Uint8Array) && !isResponseLike(res)) {
        const b = (res as ResponseInit).body;
        if (b != null && typeof b === "object" && !(b instanceof Uint8Array)) abandon(b);
      }
      return;
    }
    let status = 200;
    let headers: HeaderInput;
    let body: ResponseInit["body"] | null = null;
    if (typeof res === "string" || res instanceof Uint8Array) body = res;
    else if (res !== null && typeof res === "object") {
      if (isResponseLike(res)) {
        void this.respondFetch(head, res, startedAt);
        return;
      }
      status = res.status ?? 200;
      headers = res.headers;
      body = res.body ?? null;
    }
    if (body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      void this.respondStream(head, status, headers, body, startedAt);
      return;
    }
    this.cancelHandlerTimer();
    const server = this.server;
    const closing = this.closeAfter || server.closing;
    let h: ResponseHeadBytes;
    try {
      h = buildResponse(status, server.defaultHeaders, headers, body, head, closing);
    } catch (e) {
      server.reportError(e, "response head");
      this.writeRaw(RESPONSE_500, true);
      return;
    }
    const bytes = builtBody;
    this.responseStarted = true;
    const conn = this.conn;
    const keepAlive = h.keepAlive && !closing;
    conn.write(h.bytes);
    if (bytes.length > BODY_SLICE && bodyAllowed(status, head)) {
      void this.writeSliced(bytes).then((sent) => this.responseWritten(head, status, sent, keepAlive, startedAt));
      return;
    }
    let sent = 0;
    if (bytes.length > 0 && bodyAllowed(status, head)) {
      conn.write(bytes);
      sent = bytes.length;
    }
    this.responseWritten(head, status, sent, keepAlive, startedAt);
  }

  /** A response is written: logged, then the connection ends or goes on with the next request. */
  private responseWritten(
    head: RequestHead,
    status: number,
    sent: number,
    keepAlive: boolean,
    startedAt: number,
  ): void {
    this.server.logAccess(head, status, sent, this.conn, startedAt);
    this.request = null;
    if (!keepAlive) this.shutdown();
    else this.finished();
  }

  /** Resolves once the connection has drained (or closed). */
  private drained(): Promise<void> {
    return new Promise<void>((resolve) => (this.drainWaiter = resolve));
  }

  /**
   * Writes `bytes` a slice at a time, the next once the connection has drained, and resolves with
   * the bytes written (a byte body or a stream piece over one slice). Written whole, a body over the
   * transport's write-buffer limit (16 MiB) made it destroy the connection (the client got an empty
   * reply), and pipelined answers piled up without bound; this way at most a slice waits past the
   * high-water mark.
   */
  private async writeSliced(bytes: Uint8Array): Promise<number> {
    let sent = 0;
    for (let at = 0; at < bytes.length && !this.conn.closed; at += BODY_SLICE) {
      const piece = bytes.subarray(at, at + BODY_SLICE);
      sent += piece.length;
      if (!this.conn.write(piece) && !this.conn.closed) await this.drained();
    }
    return sent;
  }

  /** A fetch-API `Response`: its body is read whole, then answered like bytes. */
  private async respondFetch(head: RequestHead, res: ResponseLike, startedAt: number): Promise<void> {
    const headers: [string, string][] = [];
    res.headers.forEach((v, k) => {
      headers.push([k, v]);
    });
    let body: Uint8Array;
    try {
      body = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      if (this.phase === Phase.Closed || head !== this.head) return;
      this.server.reportError(e, "response body");
      this.writeRaw(RESPONSE_500, true);
      return;
    }
    this.respond(head, { status: res.status, headers, body }, startedAt);
  }

  /** A body of unknown length (an async iterable): written as it comes, chunked for HTTP/1.1. */
  private async respondStream(
    head: RequestHead,
    status: number,
    headers: HeaderInput,
    body: AsyncIterable<Uint8Array>,
    startedAt: number,
  ): Promise<void> {
    this.cancelHandlerTimer();
    const server = this.server;
    const all = withDefaults(server.defaultHeaders, headers);
    const closing = this.closeAfter || server.closing;
    let h: ResponseHeadBytes;
    try {
      h = writeResponseHead({ status, headers: all, bodyLength: undefined, request: head, close: closing });
    } catch (e) {
      server.reportError(e, "response head");
      this.writeRaw(RESPONSE_500, true);
      abandon(body);
      return;
    }
    const keepAlive = h.keepAlive && !closing;
    this.responseStarted = true;
    let sent = 0;
    this.conn.write(h.bytes);
    if (!h.bodyAllowed) abandon(body);
    else {
      try {
        for await (const piece of body) {
          if (this.conn.closed) break;
          if (piece.length === 0) continue;
          if (piece.length > BODY_SLICE) {
            // A large piece goes out in slices too (see writeSliced), inside its one chunk.
            if (h.chunked) this.conn.write(chunkHeader(piece.length));
            sent += await this.writeSliced(piece);
            if (h.chunked && !this.conn.closed) this.conn.write(CRLF);
            continue;
          }
          sent += piece.length;
          const ok = h.chunked ? this.conn.write([chunkHeader(piece.length), piece, CRLF]) : this.conn.write(piece);
          if (!ok && !this.conn.closed) await this.drained();
        }
        if (h.chunked && !this.conn.closed) this.conn.write(LAST_CHUNK);
      } catch (e) {
        server.reportError(e, "response body");
        this.conn.destroy();
        return;
      }
    }
    this.responseWritten(head, status, sent, keepAlive, startedAt);
  }

  /** A response is complete on a kept-alive connection; if its request body is still arriving, read it first. */
  private finished(): void {
    if (this.phase === Phase.Body) this.responseDone = true;
    else this.done();
  }

  /** Called once a request and its response are complete on a kept-alive connection. */
  private done(): void {
    if (this.phase === Phase.Closed || this.phase === Phase.Ws) return;
    this.head = null;
    this.responseDone = false;
    this.responseStarted = false;
    this.phase = Phase.Idle;
    if (this.server.closing) {
      this.shutdown();
      return;
    }
    this.server.wheel.reschedule(this.timer, this.server.limits.keepAliveTimeoutMs);
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      this.conn.resume();
      this.process(pending);
    }
  }

  /** The server is shutting down: idle connections end now, busy ones after their response. */
  drainForShutdown(): void {
    if (this.phase === Phase.Idle) this.shutdown();
    else if (this.phase === Phase.Head && this.parser.buffered === 0) this.shutdown();
    else this.closeAfter = true;
  }

  /** The connection was closed (or is closing after a final response). */
  get isClosed(): boolean {
    return this.phase === Phase.Closed;
  }

  /** Switches this connection to WebSocket mode. */
  upgraded(ws: WsSocket, rest: Uint8Array | null, request: unknown): void {
    this.cancelHandlerTimer();
    this.phase = Phase.Ws;
    this.ws = ws;
    // Keep nothing of the HTTP side alive for the socket's lifetime (memory per idle connection):
    // the transport hands bytes and events straight to the socket from now on (adopted node:http
    // sockets keep calling this object, which forwards them).
    this.head = null;
    this.request = null;
    this.parser = DROPPED_PARSER;
    this.conn.state = ws;
    this.server.forget(this);
    ws.opened(request);
    if (rest !== null) ws.receive(rest, false);
    // Bytes that arrived while an asynchronous upgrade hook ran were kept (copied) with reading paused.
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      ws.receive(pending, false);
      this.conn.resume();
    }
  }

  timeout(): void {
    if (this.phase === Phase.Body && this.responseStarted) {
      this.bodyFailed(new HttpError("truncated-body", "request body timed out", [], 408));
      return;
    }
    if (this.phase === Phase.Head || this.phase === Phase.Body) {
      this.bodySource?.fail(new Error("request body timed out"));
      this.bodySource = null;
      if (this.phase === Phase.Head && this.parser.buffered === 0 && this.head === null) {
        // Nothing of a request arrived: a quiet close (keep-alive idle or a silent opener).
        this.shutdown();
        return;
      }
      this.server.logError(this.head, 408, this.conn);
      this.writeRaw(RESPONSE_408, true);
    } else if (this.phase === Phase.Idle) this.shutdown();
  }

  /** Starts the handler time limit of the current request (an asynchronous handler or accept hook runs). */
  startHandlerTimer(ms: number): void {
    if (ms <= 0 || this.handlerTimer !== null) return;
    this.handlerTimer = this.server.wheel.schedule(
      ms,
      onHandlerTimeout,
      this as HttpConnection,
    ) as unknown as Timer<never>;
  }

  private cancelHandlerTimer(): void {
    if (this.handlerTimer !== null) {
      this.server.wheel.cancel(this.handlerTimer);
      this.handlerTimer = null;
    }
  }

  /** The handler did not respond in time: 503, give the request up, close after the answer. */
  handlerTimedOut(): void {
    this.handlerTimer = null;
    if (this.phase === Phase.Closed || this.phase === Phase.Ws || this.responseStarted) return;
    const head = this.head;
    const error = new Error(`handler for ${head?.method ?? "?"} ${head?.path ?? "?"} did not respond in time`);
    error.name = "HandlerTimeoutError";
    this.server.reportError(error, "http handler timeout");
    this.server.logError(head, 503, this.conn);
    this.request?.abort(error);
    this.bodySource?.fail(error);
    this.bodySource = null;
    this.body = null;
    this.head = null; // a late respond() for this head is ignored
    this.writeRaw(RESPONSE_503_TIMEOUT, true);
  }

  drain(): void {
    if (this.ws !== null) this.ws.drained();
    const w = this.drainWaiter;
    if (w !== null) {
      this.drainWaiter = null;
      w();
    }
  }

  closed(): void {
    this.phase = Phase.Closed;
    this.server.wheel.cancel(this.timer);
    this.cancelHandlerTimer();
    if (this.request !== null) {
      this.request.abort(new Error("connection closed before the response was complete"));
      this.request = null;
    }
    const w = this.drainWaiter;
    if (w !== null) {
      this.drainWaiter = null;
      w();
    }
    this.bodySource?.fail(new Error("connection closed before the request body was complete"));
    this.bodySource = null;
    this.ws?.finish();
  }
}

const DROPPED_PARSER = new RequestParser();

function onTimeout(c: HttpConnection): void {
  c.timeout();
}

function onHandlerTimeout(c: HttpConnection): void {
  c.handlerTimedOut();
}

function isResponseLike(r: unknown): r is ResponseLike {
  return (
    typeof r === "object" &&
    r !== null &&
    typeof (r as ResponseLike).arrayBuffer === "function" &&
    typeof (r as ResponseLike).headers?.forEach === "function"
  );
}

function abandon(body: AsyncIterable<Uint8Array>): void {
  const it = body[Symbol.asyncIterator]();
  void it.return?.();
}
