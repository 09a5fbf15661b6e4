/**
 * RFC 3875 §4.1 meta-variables, shared by CGI (environment) and FastCGI (PARAMS).
 *
 * @module
 */
import { join } from "node:path";
import type { ScriptTarget } from "./resolve.ts";
import type { CgiRequest } from "./types.ts";

export const SERVER_SOFTWARE = "wirehouse";

/** Header names that must not become meta-variables. */
const SKIP = new Set([
  // Carried as CONTENT_TYPE / CONTENT_LENGTH (RFC 3875 §4.1.18).
  "content-type",
  "content-length",
  // httpoxy (CVE-2016-5385): HTTP_PROXY would be read as the program's outbound proxy.
  "proxy",
]);

/** Token characters a header name may use to reach the program. */
const NAME_OK = /^[A-Za-z0-9-]+$/;

export function headerValue(headers: CgiRequest["headers"], name: string): string | undefined {
  let found: string | undefined;
  for (const [n, v] of headers) {
    if (n.length === name.length && n.toLowerCase() === name) found = found === undefined ? v : `${found}, ${v}`;
  }
  return found;
}

/**
 * Builds the meta-variables for one request. `contentLength` is the body's
 * length as the program will receive it (null: no body).
 */
export function metaVariables(
  req: CgiRequest,
  target: ScriptTarget,
  query: string,
  contentLength: number | null,
): Map<string, string> {
  const env = new Map<string, string>();
  const host = headerValue(req.headers, "host");
  const https = req.https === true;
  let serverName = req.serverName;
  if (serverName === undefined && host !== undefined) {
    serverName = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
  }
  serverName ??= req.localAddress ?? "localhost";
  const serverPort = req.serverPort ?? req.localPort ?? (https ? 443 : 80);
  let protocol = req.httpVersion ?? "HTTP/1.1";
  if (!protocol.startsWith("HTTP/")) protocol = `HTTP/${protocol}`;

  env.set("GATEWAY_INTERFACE", "CGI/1.1");
  env.set("SERVER_SOFTWARE", SERVER_SOFTWARE);
  env.set("SERVER_NAME", serverName);
  env.set("SERVER_PORT", String(serverPort));
  env.set("SERVER_PROTOCOL", protocol);
  env.set("SERVER_ADDR", req.localAddress ?? "127.0.0.1");
  env.set("REQUEST_METHOD", req.method.toUpperCase());
  env.set("REQUEST_URI", req.target);
  env.set("QUERY_STRING", query);
  env.set("SCRIPT_NAME", target.scriptName);
  env.set("SCRIPT_FILENAME", target.filename);
  env.set("DOCUMENT_ROOT", target.documentRoot);
  env.set("PATH_INFO", target.pathInfo);
  // RFC 3875 §4.1.6: PATH_TRANSLATED only when there is a PATH_INFO.
  if (target.pathInfo !== "") env.set("PATH_TRANSLATED", join(target.documentRoot, target.pathInfo));
  env.set("REMOTE_ADDR", req.remoteAddress ?? "127.0.0.1");
  env.set("REMOTE_PORT", String(req.remotePort ?? 0));
  if (https) env.set("HTTPS", "on");
  // php-cgi refuses to run without it (cgi.force_redirect): proof that a server, not a URL, started it.
  env.set("REDIRECT_STATUS", "200");
  const type = headerValue(req.headers, "content-type");
  if (type !== undefined) env.set("CONTENT_TYPE", type);
  if (contentLength !== null) env.set("CONTENT_LENGTH", String(contentLength));
  else env.set("CONTENT_LENGTH", "");

  for (const [name, value] of req.headers) {
    const key = metaName(name);
    if (key === null) continue;
    const prev = env.get(key);
    // RFC 9110 §5.3: repeated fields join with ", "; cookies with "; " (RFC 6265 §5.4).
    env.set(key, prev === undefined ? value : `${prev}${key === "HTTP_COOKIE" ? "; " : ", "}${value}`);
  }
  return env;
}

/** Header name → HTTP_* name (null: not passed), remembered for the names clients keep sending. */
const metaNames = new Map<string, string | null>();

function metaName(name: string): string | null {
  let key = metaNames.get(name);
  if (key !== undefined) return key;
  // Names with "_" or odd characters would collide with real ones after mapping (X_Forwarded vs X-Forwarded).
  key = SKIP.has(name.toLowerCase()) || !NAME_OK.test(name) ? null : `HTTP_${name.toUpperCase().replaceAll("-", "_")}`;
  if (metaNames.size >= 512) metaNames.clear();
  metaNames.set(name, key);
  return key;
}
