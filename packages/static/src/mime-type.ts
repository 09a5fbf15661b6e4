/**
 * Content-Type and compressibility from a file name.
 *
 * @module
 */

import mime from "mime";

const TEXTUAL_APPLICATION = new Set([
  "application/javascript",
  "application/json",
  "application/xml",
  "application/xhtml+xml",
  "application/manifest+json",
  "application/ld+json",
  "application/rss+xml",
  "application/atom+xml",
  "application/x-sh",
  "application/sql",
  "application/graphql",
  "image/svg+xml",
]);

const COMPRESSIBLE_BINARY = new Set([
  "application/wasm",
  "font/ttf",
  "font/otf",
  "image/x-icon",
  "image/vnd.microsoft.icon",
  "image/bmp",
  "application/x-tar",
  "application/pdf",
]);

function textual(type: string): boolean {
  return type.startsWith("text/") || TEXTUAL_APPLICATION.has(type) || type.endsWith("+json") || type.endsWith("+xml");
}

/** The Content-Type for a path; text types get `; charset=utf-8`. */
export function contentTypeOf(path: string): string {
  const type = mime.getType(path) ?? "application/octet-stream";
  return textual(type) ? `${type}; charset=utf-8` : type;
}

/** Whether compressing a file of this Content-Type is worth trying. */
export function isCompressible(contentType: string): boolean {
  const semi = contentType.indexOf(";");
  const type = semi === -1 ? contentType : contentType.slice(0, semi);
  return textual(type) || COMPRESSIBLE_BINARY.has(type);
}
