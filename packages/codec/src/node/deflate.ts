/**
 * `@wirehouse/codec/deflate`: the default permessage-deflate engine, built on `node:zlib`
 * (available on Node, Deno and Bun), and a shortcut to make a session with it.
 * @module
 */
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import {
  type Compressor,
  type Decompressor,
  type DeflateEngine,
  type NegotiatedDeflate,
  PerMessageDeflate,
  type PerMessageDeflateOptions,
  type Role,
} from "../permessage-deflate.ts";

type Stream = zlib.DeflateRaw | zlib.InflateRaw;

/**
 * Writes `data`, then a sync flush, gathering the output. `limit` bounds the output: once it
 * is exceeded the stream is destroyed (so the rest is never inflated) and `undefined` returned.
 */
function run(stream: Stream, data: Uint8Array, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const cleanup = () => {
      done = true;
      stream.removeListener("data", onData);
      stream.removeListener("error", onError);
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > limit) {
        cleanup();
        stream.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onError = (err: Error) => {
      if (done) return;
      cleanup();
      reject(err);
    };
    stream.on("data", onData);
    stream.on("error", onError);
    stream.write(data);
    // Deno reports a zlib error through the flush callback (before the 'error' event).
    stream.flush(zlib.constants.Z_SYNC_FLUSH, (err?: unknown) => {
      if (done) return;
      cleanup();
      if (err) {
        reject(err);
        return;
      }
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
  });
}

class NodeCompressor implements Compressor {
  private stream: zlib.DeflateRaw | undefined;
  constructor(private readonly options: zlib.ZlibOptions) {}

  async compress(data: Uint8Array): Promise<Uint8Array> {
    const stream = (this.stream ??= zlib.createDeflateRaw(this.options));
    return (await run(stream, data, Number.POSITIVE_INFINITY))!;
  }

  reset(): void {
    this.stream?.reset();
  }

  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }
}

class NodeDecompressor implements Decompressor {
  private stream: zlib.InflateRaw | undefined;
  constructor(private readonly options: zlib.ZlibOptions) {}

  decompress(data: Uint8Array, maxOutput: number): Promise<Uint8Array | undefined> {
    const stream = (this.stream ??= zlib.createInflateRaw(this.options));
    return run(stream, data, maxOutput);
  }

  reset(): void {
    this.stream?.reset();
  }

  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }
}

/** The node:zlib deflate engine. */
export function createNodeDeflate(): DeflateEngine {
  return {
    createCompressor({ windowBits, level, memLevel }) {
      const options: zlib.ZlibOptions = { windowBits };
      if (level !== undefined) options.level = level;
      if (memLevel !== undefined) options.memLevel = memLevel;
      return new NodeCompressor(options);
    },
    createDecompressor({ windowBits }) {
      return new NodeDecompressor({ windowBits });
    },
  };
}

/** A shared instance of {@link createNodeDeflate} (the engine itself is stateless). */
export const nodeDeflate: DeflateEngine = createNodeDeflate();

/** A permessage-deflate session for one connection using node:zlib. */
export function createPerMessageDeflate(
  params: NegotiatedDeflate,
  role: Role,
  options?: PerMessageDeflateOptions,
): PerMessageDeflate {
  return new PerMessageDeflate(nodeDeflate, params, role, options);
}
