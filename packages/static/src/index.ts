/**
 * @wirehouse/static: a directory served from memory with full HTTP caching
 * semantics. Takes a small request description and returns a response
 * description; the server turns it into bytes.
 *
 * @module
 */
export { type Compressor, contentTag, zlibCompressor } from "./compress.ts";
export type { DirEntry, FileStat, FileSystem, Watcher } from "./fs.ts";
export {
  type Coding,
  chooseCoding,
  type EncodingPreference,
  headerOf,
  noneMatchHits,
  notModifiedSince,
  parseAcceptEncoding,
  parseRange,
  type RangeResult,
  type RequestHeaders,
  type ResponseHeaders,
  type StaticRequest,
  type StaticResponse,
} from "./http.ts";
export { contentTypeOf, isCompressible } from "./mime-type.ts";
export { nodeFileSystem } from "./node-fs.ts";
export { type StaticOptions, StaticSite } from "./site.ts";
