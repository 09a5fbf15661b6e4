/**
 * Response heads for handler answers, built once and reused: a handler that
 * answers with the same status, header strings and body length (a cached file,
 * a fixed reply, a fresh object with literal strings) gets the bytes built the
 * first time, with only the Date refreshed once per second. The cache is keyed
 * by content, not identity, so a response object changed between requests is
 * never answered with a stale head. Only the common case is cached: an HTTP/1.1
 * keep-alive request with a known body length; anything else is built as before.
 */
import { defaultHttpDate, type RequestHead, type ResponseHeadBytes, writeResponseHead } from "@wirehouse/handshake";

type HeaderPairs = ReadonlyArray<readonly [string, string]>;
export type HeaderInput = HeaderPairs | Readonly<Record<string, string>> | undefined;

interface Entry {
  status: number;
  bodyLength: number;
  /** Every header name and value, the server's defaults first. */
  flat: string[];
  /** The Date value in `bytes`, or null when the handler gave its own Date. */
  date: string | null;
  /** A string body and its bytes (strings are immutable: the same string encodes the same). */
  text: string | null;
  textBytes: Uint8Array | null;
  head: ResponseHeadBytes;
}

const SLOTS = 64;
const cache: (Entry | null)[] = new Array<Entry | null>(SLOTS).fill(null);
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function slot(status: number, length: number, count: number): number {
  return (status * 31 + length * 7 + count) & (SLOTS - 1);
}

function sameHeaders(flat: string[], defaults: HeaderPairs, headers: HeaderInput): boolean {
  let k = 0;
  for (let i = 0; i < defaults.length; i++) {
    const p = defaults[i]!;
    if (flat[k] !== p[0] || flat[k + 1] !== p[1]) return false;
    k += 2;
  }
  if (headers !== undefined) {
    if (Array.isArray(headers)) {
      const pairs = headers as HeaderPairs;
      for (let i = 0; i < pairs.length; i++) {
        const p = pairs[i]!;
        if (flat[k] !== p[0] || flat[k + 1] !== p[1]) return false;
        k += 2;
      }
    } else {
      const record = headers as Readonly<Record<string, string>>;
      for (const n of Object.keys(record)) {
        if (flat[k] !== n || flat[k + 1] !== record[n]) return false;
        k += 2;
      }
    }
  }
  return k === flat.length;
}

function headerCount(headers: HeaderInput): number {
  if (headers === undefined) return 0;
  return Array.isArray(headers) ? headers.length : -1;
}

/**
 * The body bytes of the last `buildResponse` call (a string body encoded, or
 * its cached encoding): an out-parameter, so the hot path allocates no result object.
 */
export let builtBody: Uint8Array = new Uint8Array(0);

/**
 * Builds (or reuses) the head for `status`, `headers` (after `defaults`) and
 * `body` (bytes, a string, or null for none) answering `request`; the body's
 * bytes are left in `builtBody`. `close`: the connection closes after this
 * response. Throws like `writeResponseHead` for headers that would break the
 * head. The head's `bodyAllowed` is not for this request (a cached head may
 * come from a HEAD request or go to one): use `bodyAllowed()`.
 */
export function buildResponse(
  status: number,
  defaults: HeaderPairs,
  headers: HeaderInput,
  body: Uint8Array | string | null,
  request: RequestHead,
  close: boolean,
): ResponseHeadBytes {
  // A HEAD answered without a body says nothing of the GET's length (RFC 9110 §8.6 forbids a wrong
  // one): its head has no Content-Length, so it is not cached where a GET without a body could find it.
  const headWithoutBody = body === null && request.method === "HEAD";
  const cacheable = !close && request.minor === 1 && request.keepAlive && !headWithoutBody;
  const text = typeof body === "string" ? body : null;
  const length = text !== null ? text.length : body === null ? 0 : (body as Uint8Array).length;
  const count = headerCount(headers);
  let i = -1;
  if (cacheable) {
    i = slot(status, length, count);
    const e = cache[i]!;
    if (
      e !== null &&
      e.status === status &&
      (text !== null ? e.text === text : e.text === null && e.bodyLength === length) &&
      sameHeaders(e.flat, defaults, headers)
    ) {
      if (e.date === null || e.date === defaultHttpDate.value) {
        builtBody = text !== null ? (e.textBytes as Uint8Array) : ((body as Uint8Array | null) ?? EMPTY);
        return e.head;
      }
    }
  }
  const bytes = text !== null ? encoder.encode(text) : ((body as Uint8Array | null) ?? EMPTY);
  const all = withDefaults(defaults, headers);
  const date = defaultHttpDate.value;
  const head = writeResponseHead({
    status,
    headers: all,
    bodyLength: headWithoutBody ? undefined : bytes.length,
    request,
    close,
  });
  if (cacheable) {
    const flat: string[] = [];
    let userDate = false;
    for (let j = 0; j < all.length; j++) {
      const p = all[j]!;
      flat.push(p[0], p[1]);
      if (p[0].length === 4 && p[0].toLowerCase() === "date") userDate = true;
    }
    cache[i] = {
      status,
      bodyLength: length,
      flat,
      date: userDate ? null : date,
      text,
      textBytes: text !== null ? bytes : null,
      head,
    };
  }
  builtBody = bytes;
  return head;
}

/** Whether a body follows the head of a `status` answer to `request` (not for HEAD, 1xx, 204, 304). */
export function bodyAllowed(status: number, request: RequestHead): boolean {
  return status >= 200 && status !== 204 && status !== 304 && request.method !== "HEAD";
}

/** The server's default headers followed by the handler's, as pairs. */
export function withDefaults(defaults: HeaderPairs, headers: HeaderInput): HeaderPairs {
  const own = pairsOf(headers);
  return defaults.length > 0 ? [...defaults, ...own] : own;
}

function pairsOf(headers: HeaderInput): HeaderPairs {
  if (headers === undefined) return [];
  return Array.isArray(headers) ? (headers as HeaderPairs) : Object.entries(headers as Record<string, string>);
}
