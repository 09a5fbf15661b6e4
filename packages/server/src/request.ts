/**
 * The request object handlers see: a thin view over the parsed head, with the body
 * already collected (bounded by maxBodySize) before the handler runs.
 */
import type { RequestHead } from "@wirehouse/handshake";
import type { Connection } from "@wirehouse/transport";
import type { RequestHeaders, ServerRequest } from "./types.ts";

const textDecoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class Request implements ServerRequest {
  params: Record<string, string> = {};
  rest = "/";
  bodySource: BodySource | null = null;
  private cookieMap: Map<string, string> | null = null;
  /** Created on first use of `signal` (most handlers never ask). */
  private controller: AbortController | null = null;
  /** Set once the request was given up (before anyone asked for `signal`). */
  private abortReason: unknown = undefined;

  constructor(
    readonly head: RequestHead,
    readonly path: string,
    /** Read lazily: the Node adapter asks the kernel for the peer address only when someone wants it. */
    private readonly conn: Pick<Connection, "remoteAddress" | "remotePort">,
    readonly https: boolean,
  ) {}

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }

  get method(): string {
    return this.head.method;
  }
  get url(): string {
    return this.head.target;
  }
  get query(): URLSearchParams {
    return this.head.query;
  }
  get rawQuery(): string {
    return this.head.rawQuery;
  }
  get headers(): RequestHeaders {
    return this.head.headers as unknown as RequestHeaders;
  }
  get host(): string {
    return this.head.host ?? "";
  }
  get httpVersion(): "1.0" | "1.1" {
    return this.head.minor === 0 ? "1.0" : "1.1";
  }
  get cookies(): Map<string, string> {
    if (this.cookieMap === null) {
      const c = this.head.cookies as unknown;
      this.cookieMap = c instanceof Map ? (c as Map<string, string>) : new Map(Object.entries(c as object));
    }
    return this.cookieMap;
  }
  get origin(): string | null {
    return this.head.headers.get("origin") ?? null;
  }
  /** The whole body (bounded by maxBodySize); rejects if the body is bad, too large or cut off. */
  body(): Promise<Uint8Array> {
    return this.bodySource === null ? Promise.resolve(EMPTY) : this.bodySource.all();
  }
  text(): Promise<string> {
    return this.body().then((b) => textDecoder.decode(b));
  }
  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t));
  }
  /** Aborted when the request is given up (handler timeout, connection closed before the response). */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }
  /** @internal gives the request up: aborts `signal` (now, or when first asked for). */
  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
  /** The body as it arrives (one consumer). */
  bodyStream(): AsyncIterable<Uint8Array> {
    const source = this.bodySource;
    return source === null ? emptyStream() : source.stream();
  }
}

async function* emptyStream(): AsyncIterable<Uint8Array> {}

/** Body chunks from the connection to the handler: a queue with one waiting reader. */
export class BodySource {
  private chunks: Uint8Array[] = [];
  private ended = false;
  private error: Error | null = null;
  private waiter: (() => void) | null = null;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.wake();
  }
  end(): void {
    this.ended = true;
    this.wake();
  }
  fail(error: Error): void {
    if (this.ended) return;
    this.error = error;
    this.wake();
  }
  private wake(): void {
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w();
    }
  }
  async *stream(): AsyncIterable<Uint8Array> {
    for (;;) {
      const c = this.chunks.shift();
      if (c !== undefined) {
        yield c;
        continue;
      }
      if (this.error !== null) throw this.error;
      if (this.ended) return;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
  async all(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const c of this.stream()) {
      parts.push(c);
      size += c.length;
    }
    if (parts.length === 1) return parts[0] as Uint8Array;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
