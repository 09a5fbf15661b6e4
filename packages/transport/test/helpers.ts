/** Test helpers: deterministic bytes, a promise you resolve from outside, fixture certificates. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** xorshift32: fast deterministic pseudo-random numbers. */
export function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  const r = rng(seed);
  for (let i = 0; i < words.length; i++) words[i] = r();
  for (let i = words.length * 4; i < n; i++) out[i] = r() & 255;
  return out;
}

/** Appends chunks into one growing buffer (copies: received bytes are only valid during the data call). */
export class Sink {
  buf = new Uint8Array(1024);
  length = 0;
  push(bytes: Uint8Array): void {
    if (this.length + bytes.byteLength > this.buf.byteLength) {
      let cap = this.buf.byteLength * 2;
      while (cap < this.length + bytes.byteLength) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(bytes, this.length);
    this.length += bytes.byteLength;
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/** Index of the first differing byte, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : n;
}

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
/** Test-only certificates, committed under test/fixtures and named as such. Never use them anywhere else. */
export const certs = {
  ca: readFileSync(join(fixtures, "test-only-ca.crt"), "utf8"),
  localhost: {
    cert: readFileSync(join(fixtures, "test-only-localhost.crt"), "utf8"),
    key: readFileSync(join(fixtures, "test-only-localhost.key"), "utf8"),
  },
  other: {
    cert: readFileSync(join(fixtures, "test-only-other.test.crt"), "utf8"),
    key: readFileSync(join(fixtures, "test-only-other.test.key"), "utf8"),
  },
};

export const enc = new TextEncoder();
