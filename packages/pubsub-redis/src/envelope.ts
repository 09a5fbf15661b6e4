/**
 * The wire envelope of one relayed message: a fixed binary header, the publisher's
 * instance id, then the payload bytes untouched (no JSON, no base64).
 *
 * ```
 * offset size  field
 * 0      1     version (1)
 * 1      1     flags: bit 0 = binary (WebSocket binary frame), else text;
 *                     bit 1 = compress (the publisher asked for permessage-deflate);
 *                     other bits are ignored
 * 2      1     instance id length in bytes (1..255)
 * 3      4     epoch: random u32 chosen when the adapter starts (big-endian)
 * 7      8     sequence number: u64 big-endian, per publisher, starts at 1
 * 15     n     instance id (UTF-8)
 * 15+n   ...   payload
 * ```
 *
 * The topic is not repeated: it is the Redis channel name minus the prefix.
 */

export const ENVELOPE_VERSION = 1;
export const HEADER_SIZE = 15;
const FLAG_BINARY = 1;
const FLAG_COMPRESS = 2;
const TWO_32 = 2 ** 32;

export interface Envelope {
  binary: boolean;
  /** The publisher asked for the message to be sent compressed where a socket agreed permessage-deflate. */
  compress: boolean;
  instanceId: string;
  epoch: number;
  seq: number;
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes the id once; `encodeEnvelope` copies these bytes into each message. */
export function encodeInstanceId(id: string): Uint8Array {
  const bytes = encoder.encode(id);
  if (bytes.length === 0 || bytes.length > 255) throw new RangeError("instanceId must be 1..255 UTF-8 bytes");
  return bytes;
}

/** One allocation, one copy of the payload. */
export function encodeEnvelope(
  id: Uint8Array,
  epoch: number,
  seq: number,
  binary: boolean,
  payload: Uint8Array,
  compress = false,
): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + id.length + payload.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = ENVELOPE_VERSION;
  out[1] = (binary ? FLAG_BINARY : 0) | (compress ? FLAG_COMPRESS : 0);
  out[2] = id.length;
  view.setUint32(3, epoch >>> 0);
  view.setUint32(7, Math.floor(seq / TWO_32));
  view.setUint32(11, seq >>> 0);
  out.set(id, HEADER_SIZE);
  out.set(payload, HEADER_SIZE + id.length);
  return out;
}

/** Returns null for anything that is not a version-1 envelope (foreign publishers on the channel). */
export function decodeEnvelope(bytes: Uint8Array): Envelope | null {
  if (bytes.length < HEADER_SIZE + 1 || bytes[0] !== ENVELOPE_VERSION) return null;
  const idLen = bytes[2]!;
  if (idLen === 0 || bytes.length < HEADER_SIZE + idLen) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    binary: (bytes[1]! & FLAG_BINARY) !== 0,
    compress: (bytes[1]! & FLAG_COMPRESS) !== 0,
    epoch: view.getUint32(3),
    seq: view.getUint32(7) * TWO_32 + view.getUint32(11),
    instanceId: decoder.decode(bytes.subarray(HEADER_SIZE, HEADER_SIZE + idLen)),
    // A plain Uint8Array view (not a Buffer, not a copy): the server encodes it into a frame right away.
    payload: new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER_SIZE + idLen, bytes.length - HEADER_SIZE - idLen),
  };
}
