/**
 * Request-path decoding and normalisation, in one place for the whole
 * project: the router matches on its output and the static cache maps it to
 * files, so both see exactly the same path.
 *
 * @module
 */

/** Why a path was refused. */
export type PathErrorCode = "not-absolute" | "bad-escape" | "bad-utf8" | "nul" | "encoded-slash" | "backslash";

/**
 * A request path that cannot be served. A value, not a thrown exception:
 * `normalizePath` returns it and the caller turns it into a 400 response.
 */
export class PathError {
  /** Always 400: the request target itself is malformed. */
  readonly status = 400 as const;
  constructor(
    readonly code: PathErrorCode,
    readonly reason: string,
  ) {}
}

/** Narrows a `normalizePath` result. */
export function isPathError(value: unknown): value is PathError {
  return value instanceof PathError;
}

const NOT_ABSOLUTE = new PathError("not-absolute", "the request path must start with '/'");
const BAD_ESCAPE = new PathError("bad-escape", "a '%' is not followed by two hexadecimal digits");
const BAD_UTF8 = new PathError("bad-utf8", "the percent-decoded path is not valid UTF-8");
const NUL = new PathError("nul", "the path contains a NUL character");
const ENCODED_SLASH = new PathError("encoded-slash", "the path contains an encoded '/' (%2F)");
const BACKSLASH = new PathError("backslash", "the path contains a backslash");

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/**
 * Decodes and normalises the path of a request target.
 *
 * - Anything from the first `?` on (the query) is ignored.
 * - The path must start with `/`.
 * - Percent-escapes are decoded exactly once; the result must be valid UTF-8
 *   (overlong forms and surrogates are invalid). A `%` without two hex digits,
 *   an encoded NUL (`%00`), an encoded slash (`%2F`) or backslash (`%5C`), and
 *   a raw NUL or backslash are refused: `/` is the only segment separator, and
 *   a byte that would turn into a separator or terminator after decoding is
 *   an attack, not a file name.
 * - Dot segments are resolved after decoding (so `%2e%2e` is `..`, RFC 3986
 *   §2.3: `%2E` is equivalent to `.`), and `..` never climbs above `/`.
 * - Empty segments (`//`) are collapsed. A trailing slash is kept, and a
 *   path ending in `/.` or `/..` ends with a slash (RFC 3986 §5.2.4).
 *
 * Returns the normalised path (the same string when nothing needed changing,
 * which is the common case and allocates nothing) or a `PathError` (status 400).
 */
export function normalizePath(raw: string): string | PathError {
  let end = raw.indexOf("?");
  if (end === -1) end = raw.length;
  if (end === 0 || raw.charCodeAt(0) !== 47) return NOT_ABSOLUTE;

  // Fast scan: most paths need nothing but this loop.
  let decode = false;
  let dots = false;
  let prev = 47;
  for (let i = 1; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37) {
      decode = true;
      const h = hexValue(raw.charCodeAt(i + 1));
      const l = hexValue(raw.charCodeAt(i + 2));
      if (h < 0 || l < 0 || i + 2 >= end) return BAD_ESCAPE;
      const byte = (h << 4) | l;
      if (byte === 0) return NUL;
      if (byte === 0x2f) return ENCODED_SLASH;
      if (byte === 0x5c) return BACKSLASH;
      if (byte === 0x2e) dots = true;
      i += 2;
      prev = 0;
      continue;
    } else if (c === 0) {
      return NUL;
    } else if (c === 92) {
      return BACKSLASH;
    } else if (prev === 47 && (c === 47 || c === 46)) {
      dots = true;
    }
    prev = c;
  }

  let path = end === raw.length ? raw : raw.slice(0, end);
  if (decode) {
    try {
      path = decodeURIComponent(path);
    } catch {
      return BAD_UTF8;
    }
  }
  if (!dots) return path;
  return resolveSegments(path);
}

/** Collapses `//`, resolves `.` and `..` (clamped at the root), keeps a trailing slash. */
function resolveSegments(path: string): string {
  const parts = path.split("/");
  const out: string[] = [];
  let trailing = false;
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    trailing = false;
    if (seg === "" || seg === ".") {
      trailing = true;
    } else if (seg === "..") {
      out.pop();
      trailing = true;
    } else {
      out.push(seg);
    }
  }
  if (out.length === 0) return "/";
  return "/" + out.join("/") + (trailing ? "/" : "");
}
