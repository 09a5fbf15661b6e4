/**
 * @module @wirehouse/cgi/fastcgi
 *
 * The pure FastCGI 1.0 record codec alone (web-standard APIs only, no node:
 * imports): usable in any runtime, for clients and servers alike.
 */
export { decodeNameValuePairs, encodeNameValuePairs, type NameValuePair } from "./fastcgi-params.ts";
export {
  type DecodeResult,
  encodeAbortRequest,
  encodeBeginRequest,
  encodeEndRequest,
  encodeGetValues,
  encodeGetValuesResult,
  encodeParams,
  encodeRecord,
  encodeStream,
  encodeUnknownType,
  FCGI,
  FcgiDecoder,
  type FcgiErrorCode,
  FcgiProtocolError,
  type FcgiRecord,
} from "./fastcgi-record.ts";
