/**
 * Accept hooks: a per-route decision, made before a request is served or a
 * websocket is upgraded, to let it through (with extra response headers, a
 * chosen subprotocol and user data) or turn it away (status, headers, body).
 *
 * @module
 */

/** Header access for hooks: `get` is case-insensitive and returns null when absent. */
export interface HeaderLookup {
  get(name: string): string | null;
}

/** What an accept hook sees of the request. */
export interface AcceptRequest {
  readonly method: string;
  /** The normalised path (see `normalizePath`). */
  readonly path: string;
  /** The raw query string without its `?` ("" when absent). */
  readonly query: string;
  /** The normalised host name (see `normalizeHost`). */
  readonly host: string;
  readonly headers: HeaderLookup;
  readonly cookies: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  /** The `Origin` header, or null. */
  readonly origin: string | null;
  /** Route parameters (`/chat/:room` → `{ room }`). */
  readonly params: Readonly<Record<string, string>>;
}

/** Response header list: `[name, value]` pairs, repeated names allowed (Set-Cookie). */
export type HeaderList = ReadonlyArray<readonly [string, string]>;

/** Let the request through. */
export interface Accept<D = unknown> {
  readonly accept: true;
  /** Extra headers for the response (or the 101), e.g. Set-Cookie. */
  readonly headers?: HeaderList;
  /** The websocket subprotocol chosen from Sec-WebSocket-Protocol. */
  readonly protocol?: string;
  /** User data attached to the request or connection. */
  readonly data?: D;
}

/** Turn the request away with this response. */
export interface Reject {
  readonly accept: false;
  /** 400–599. */
  readonly status: number;
  readonly headers?: HeaderList;
  readonly body?: string | Uint8Array;
}

export type AcceptResult<D = unknown> = Accept<D> | Reject;

/** A hook may answer synchronously or with a promise. */
export type AcceptHook<D = unknown> = (request: AcceptRequest) => AcceptResult<D> | Promise<AcceptResult<D>>;

/** The answer when a route has no hook. */
export const ACCEPTED: Accept<undefined> = Object.freeze({ accept: true as const });

/** Builds an accept answer. */
export function accept<D = unknown>(options: Omit<Accept<D>, "accept"> = {}): Accept<D> {
  return { accept: true, ...options };
}

/** Builds a reject answer. */
export function reject(status: number, options: Omit<Reject, "accept" | "status"> = {}): Reject {
  return { accept: false, status, ...options };
}

const HOOK_FAILED: Reject = Object.freeze({
  accept: false as const,
  status: 500,
  headers: Object.freeze([Object.freeze(["content-type", "text/plain; charset=utf-8"] as const)]),
  body: "Internal Server Error",
});

function check<D>(result: unknown): AcceptResult<D> {
  if (typeof result === "object" && result !== null) {
    const r = result as AcceptResult<D>;
    if (r.accept === true) return r;
    if (r.accept === false && Number.isInteger(r.status) && r.status >= 400 && r.status <= 599) return r;
  }
  return HOOK_FAILED;
}

/**
 * Runs a route's hook. No hook: `ACCEPTED`, synchronously. A synchronous hook
 * answers synchronously (no promise on the common path); an async one
 * answers with a promise. A hook that throws, rejects or returns something
 * that is neither a valid accept nor a reject (status 400–599) becomes a 500
 * reject, so a buggy hook never lets a request through by accident.
 */
export function runAcceptHook<D = unknown>(
  hook: AcceptHook<D> | undefined,
  request: AcceptRequest,
): AcceptResult<D> | Promise<AcceptResult<D>> {
  if (hook === undefined) return ACCEPTED as Accept<D>;
  let result: AcceptResult<D> | Promise<AcceptResult<D>>;
  try {
    result = hook(request);
  } catch {
    return HOOK_FAILED;
  }
  if (typeof (result as Promise<unknown> | null)?.then === "function") {
    return (result as Promise<AcceptResult<D>>).then(check<D>, () => HOOK_FAILED);
  }
  return check<D>(result);
}
