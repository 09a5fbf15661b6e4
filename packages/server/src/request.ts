/**
 * The request object handlers see: a thin view over the parsed head, with the body
 * already collected (bounded by maxBodySize) before the handler runs.
 */
import type { RequestHead } from "@wirehouse/handshake";
import type { RequestHeaders, ServerRequest } from "./types.ts";

const textDecoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class Request implements ServerRequest {
  params: Record<string, string> = {};
  rest = "/";
  bodyBytes: Uint8Array = EMPTY;
  private cookieMap: Map<string, string> | null = null;

  constructor(
    readonly head: RequestHead,
    readonly path: string,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly https: boolean,
  ) {}

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
  body(): Promise<Uint8Array> {
    return Promise.resolve(this.bodyBytes);
  }
  text(): Promise<string> {
    return Promise.resolve(textDecoder.decode(this.bodyBytes));
  }
  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t));
  }
  async *bodyStream(): AsyncIterable<Uint8Array> {
    if (this.bodyBytes.length > 0) yield this.bodyBytes;
  }
}
