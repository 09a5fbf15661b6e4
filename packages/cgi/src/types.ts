/**
 * What the server hands the gateway (a request) and what it gets back (a result).
 *
 * @module
 */

/** A request body: streamed, whole, or absent. */
export type CgiRequestBody = AsyncIterable<Uint8Array> | Uint8Array | null;

/** The HTTP request as the server parsed it. */
export interface CgiRequest {
  method: string;
  /** The request-target exactly as received (path and query, still percent-encoded): REQUEST_URI. */
  target: string;
  /**
   * The decoded, normalised path (no query). When absent it is derived from
   * `target` (percent-decoded, dot segments refused).
   */
  path?: string;
  /** The query string without `?`, still encoded. Derived from `target` when absent. */
  query?: string;
  /** "HTTP/1.1" or "1.1". */
  httpVersion?: string;
  /** Header fields in arrival order, names in any case. */
  headers: ReadonlyArray<readonly [string, string]>;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  /** Host name the site answers as (SERVER_NAME); defaults to the Host header without port. */
  serverName?: string;
  /** Defaults to `localPort`, then 80/443. */
  serverPort?: number;
  https?: boolean;
  body?: CgiRequestBody;
}

export interface CgiProgram {
  /** Interpreter (e.g. "php-cgi"); omitted: the script file itself is executed. */
  bin?: string;
  args?: string[];
  /** Extra environment for the program (PATH defaults to /usr/local/bin:/usr/bin:/bin). */
  env?: Record<string, string>;
}

export interface FastCgiTarget {
  /** "host:port", "[::1]:port" or a Unix socket path ("/run/php/fpm.sock"). */
  address: string;
  /**
   * Pool bound: connections per address (default 4). Keep it ≤ php-fpm's pm.max_children
   * (Debian's www pool: 5): each kept connection holds a php-fpm worker.
   */
  maxConnections?: number;
  /**
   * Keep connections open between requests (FCGI_KEEP_CONN, default true).
   * php-fpm pins a worker to a kept connection, so keep `maxConnections` ≤
   * pm.max_children. With false, each request opens a connection the peer
   * closes after answering; `maxConnections` then bounds requests in flight
   * and may exceed the worker count (the rest wait in the listen backlog).
   */
  keepAlive?: boolean;
  /** Close kept-alive connections idle this long (default 5000 ms). */
  idleTimeoutMs?: number;
  /** Multiplex requests on one connection: "auto" asks the peer (FCGI_MPXS_CONNS). Default "auto". */
  multiplex?: boolean | "auto";
  /**
   * Without multiplexing: how many requests may be on one kept connection at
   * once (default 2; 1 = strictly one at a time). With 2, when every
   * connection is busy a GET/HEAD/OPTIONS request with a whole body is sent
   * behind a running one (never behind one that has run over 100 ms or is
   * still streaming its body, never ahead of requests already waiting), so
   * the php-fpm worker starts it as soon as the current one ends instead of
   * waiting for a round trip through the server. Only safe methods are
   * queued, so one that meets a connection the peer closed (pm.max_requests)
   * is sent again; a peer that answers FCGI_CANT_MPX_CONN to a queued
   * request gets it again alone and the pool stops pipelining.
   */
  pipeline?: number;
  /** Extra FastCGI params for every request. */
  params?: Record<string, string>;
}

/** Which requests of a site go to a program, and how. */
export interface CgiSite {
  /** Directory the scripts live in (DOCUMENT_ROOT). */
  root: string;
  /**
   * ".php" (or [".php", ".phtml"]): scripts by extension; "/cgi-bin/": every
   * file under that URL prefix.
   */
  match: string | string[];
  cgi?: CgiProgram;
  fastcgi?: FastCgiTarget;
  /** Tried in order when the path names a directory. Default ["index.php"] for extension matches. */
  index?: string[];
  /** Whole-request time limit (default 30000 ms). Before the head: 504; after it: the body aborts. */
  timeoutMs?: number;
  /** Request bodies without Content-Length are buffered up to this many bytes (default 16 MiB), else 413. */
  maxBufferedBody?: number;
  /** Remember script lookups (stat + realpath) this long, in ms (default 1000; 0 turns it off). */
  resolveCacheMs?: number;
  /** Response head size limit (default 64 KiB); larger is a malformed response (502). */
  maxHeaderBytes?: number;
}

/** A response body that streams the program's output. */
export interface CgiBody extends AsyncIterable<Uint8Array> {
  /** Content-Length the program announced, or null (the server then chunks). */
  readonly length: number | null;
  /** Stop the program / FastCGI request (client went away). Safe to call twice. */
  cancel(): void;
  /**
   * The whole body, when the program had already finished (successfully,
   * with no fewer bytes than an announced Content-Length) by the time its head
   * was parsed — typical for small pages over FastCGI, where php-fpm sends
   * output and END_REQUEST together. Else null. A server can send it as a
   * byte body (head and body in one write, with a Content-Length) instead of
   * iterating; iterating still works and yields the same bytes.
   */
  readonly complete: Uint8Array | null;
}

export type CgiResult =
  /**
   * The program answered. Iterating `body` yields its bytes; if the program
   * dies, times out or breaks the response mid-body, iteration throws a
   * {@link CgiAbortedError}: the server must then cut the connection (no
   * final chunk), so the client never takes a half response as complete.
   */
  | { type: "response"; status: number; statusText: string; headers: Array<[string, string]>; body: CgiBody }
  /** RFC 3875 §6.2.2 local redirect: the server re-dispatches a GET for `location` (a path with optional query). */
  | { type: "local-redirect"; location: string }
  /** Nothing was sent yet: answer with this status (404, 403, 413, 502, 504). */
  | { type: "error"; status: number; message: string };

export type CgiAbortReason = "timeout" | "crash" | "malformed" | "connection" | "cancelled";

/** Thrown by a response body whose program failed after the head was handed out. */
export class CgiAbortedError extends Error {
  override readonly name = "CgiAbortedError";
  constructor(
    readonly reason: CgiAbortReason,
    message: string,
  ) {
    super(message);
  }
}

export type LogLevel = "error" | "warn" | "info";
export type CgiLogger = (level: LogLevel, message: string) => void;

/** Options of {@link CgiSiteHandler.exec}. */
export interface ExecOptions {
  method?: string;
  /** Query string (without "?"), or pairs to encode. */
  query?: string | Record<string, string> | URLSearchParams;
  body?: Uint8Array | string | null;
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>;
  /** Defaults: 127.0.0.1, port 0, server name "localhost". */
  remoteAddress?: string;
  serverName?: string;
}

export interface ExecResult {
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
}
