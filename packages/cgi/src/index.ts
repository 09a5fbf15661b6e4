/**
 * @module @wirehouse/cgi
 *
 * CGI/1.1 (RFC 3875) and FastCGI gateway: runs PHP (php-cgi, php-fpm) and
 * other programs for a site, streaming request and response bodies.
 */
export { DEFAULT_PATH, runCgi } from "./cgi-process.ts";
// The pure record codec is also its own entry point (@wirehouse/cgi/fastcgi).
export * from "./fastcgi.ts";
export { FastCgiPool, parseAddress } from "./fastcgi-client.ts";
export { CgiGateway, CgiSiteHandler, createGateway, type GatewayOptions } from "./gateway.ts";
export { metaVariables, SERVER_SOFTWARE } from "./meta.ts";
export { decodeTargetPath, type ResolveOutcome, ScriptResolver, type ScriptTarget, splitSafePath } from "./resolve.ts";
export { OutputChannel, readResponse } from "./response.ts";
export {
  CgiAbortedError,
  type CgiAbortReason,
  type CgiBody,
  type CgiLogger,
  type CgiProgram,
  type CgiRequest,
  type CgiRequestBody,
  type CgiResult,
  type CgiSite,
  type ExecOptions,
  type ExecResult,
  type FastCgiTarget,
  type LogLevel,
} from "./types.ts";
