/**
 * @wirehouse/router: virtual hosts → sites → routes, accept hooks, and the
 * one request-path normaliser the whole server shares. Pure: web-standard
 * APIs only.
 *
 * @module
 */
export {
  ACCEPTED,
  type Accept,
  type AcceptHook,
  type AcceptRequest,
  type AcceptResult,
  accept,
  type HeaderList,
  type HeaderLookup,
  type Reject,
  reject,
  runAcceptHook,
} from "./accept.ts";
export { parseCookies } from "./cookies.ts";
export { normalizeHost } from "./host.ts";
export { isPathError, normalizePath, PathError, type PathErrorCode } from "./path.ts";
export {
  type Route,
  type RouteDefinition,
  type RouteMatch,
  type RouteOptions,
  Router,
  Site,
  type SiteDefinition,
} from "./router.ts";
export { type ParsedPattern, parsePattern } from "./tree.ts";
