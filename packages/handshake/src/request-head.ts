/**
 * A parsed request head: what the server routes on. Plain fields for what
 * every request needs; query parameters and cookies are decoded on first use.
 */
import { firstLower, type HeaderList } from "./headers.ts";

/** RFC 9112 §3.2: which of the four request-target forms the request used. */
export type TargetForm = "origin" | "absolute" | "authority" | "asterisk";

/** How the request body is delimited (RFC 9112 §6.3). */
export type BodyKind = "none" | "length" | "chunked";

export class RequestHead {
  /** The method token, case-sensitive ("GET", "POST", …). */
  readonly method: string;
  /** The request-target exactly as received. */
  readonly target: string;
  readonly targetForm: TargetForm;
  /** The path, still percent-encoded ("/a%20b"); "*" for asterisk-form, "" for authority-form. */
  readonly path: string;
  /** What follows "?" in the target, undecoded ("" when there is none). */
  readonly rawQuery: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  readonly version: "HTTP/1.1" | "HTTP/1.0";
  /** 1 or 0. */
  readonly minor: number;
  readonly headers: HeaderList;
  /**
   * The authority the request is for: the Host field, or the target's
   * authority for absolute-form and authority-form (RFC 9112 §3.2.2).
   * Undefined only for an HTTP/1.0 request without Host.
   */
  readonly host: string | undefined;
  /** Whether the connection stays open after this exchange (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** The Connection field lists "upgrade" and an Upgrade field is present. */
  readonly upgrade: boolean;
  /** `Expect: 100-continue` was sent. */
  readonly expectContinue: boolean;
  readonly bodyKind: BodyKind;
  /** Declared body length for "length", 0 for "none", -1 for "chunked". */
  readonly contentLength: number;
  private _query: URLSearchParams | undefined;
  private _cookies: Map<string, string> | undefined;

  constructor(
    method: string,
    target: string,
    targetForm: TargetForm,
    path: string,
    rawQuery: string,
    minor: number,
    headers: HeaderList,
    host: string | undefined,
    keepAlive: boolean,
    upgrade: boolean,
    expectContinue: boolean,
    bodyKind: BodyKind,
    contentLength: number,
  ) {
    this.method = method;
    this.target = target;
    this.targetForm = targetForm;
    this.path = path;
    this.rawQuery = rawQuery;
    this.version = minor === 1 ? "HTTP/1.1" : "HTTP/1.0";
    this.minor = minor;
    this.headers = headers;
    this.host = host;
    this.keepAlive = keepAlive;
    this.upgrade = upgrade;
    this.expectContinue = expectContinue;
    this.bodyKind = bodyKind;
    this.contentLength = contentLength;
    this._query = undefined;
    this._cookies = undefined;
  }

  /** Decoded query parameters (`+` is a space, percent-escapes decoded as UTF-8), in order, repeats kept. */
  get query(): URLSearchParams {
    return (this._query ??= new URLSearchParams(this.rawQuery));
  }

  /** Cookies from every Cookie field (RFC 6265 §5.4); the first of a repeated name wins; values undecoded. */
  get cookies(): Map<string, string> {
    if (this._cookies === undefined) {
      const map = new Map<string, string>();
      for (const line of this.headers.getAll("cookie")) parseCookies(line, map);
      this._cookies = map;
    }
    return this._cookies;
  }

  /** The Origin field, for accept hooks (RFC 6455 §4.2.1 item 8). */
  get origin(): string | undefined {
    return firstLower(this.headers, "origin");
  }

  /** Whether a body follows the head. */
  get hasBody(): boolean {
    return this.bodyKind === "chunked" || this.contentLength > 0;
  }
}

/** Adds `name=value` pairs of one Cookie field to `into` (first occurrence wins). */
export function parseCookies(value: string, into: Map<string, string> = new Map()): Map<string, string> {
  let start = 0;
  const n = value.length;
  while (start < n) {
    let end = value.indexOf(";", start);
    if (end === -1) end = n;
    const eq = value.indexOf("=", start);
    if (eq !== -1 && eq < end) {
      const name = value.slice(start, eq).trim();
      let v = value.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22) v = v.slice(1, -1);
      if (name.length > 0 && !into.has(name)) into.set(name, v);
    }
    start = end + 1;
  }
  return into;
}
