// Shared helpers for the codec tests (not a test file itself).
import { DecoderEvent, type MessageDecoder } from "../src/index.ts";

export const te = new TextEncoder();
export const td = new TextDecoder();

export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

export function hex(data: Uint8Array): string {
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits `data` into chunks whose sizes cycle through `sizes` (copies, like a socket would deliver). */
export function chunk(data: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    out.push(data.slice(at, at + n));
    at += n;
  }
  return out;
}

export type Ev = { ev: number; data?: Uint8Array; code?: number; reason?: string; closeCode?: number };

/** Pushes every chunk and collects events (payloads copied). */
export function drain(decoder: MessageDecoder, chunks: Uint8Array[]): Ev[] {
  const out: Ev[] = [];
  const take = () => {
    for (let ev = decoder.next(); ev !== DecoderEvent.None; ev = decoder.next()) {
      if (ev === DecoderEvent.Error)
        out.push({ ev, closeCode: decoder.error!.closeCode, reason: decoder.error!.reason });
      else if (ev === DecoderEvent.Close) out.push({ ev, code: decoder.closeCode, reason: decoder.closeReason });
      else out.push({ ev, data: decoder.data.slice() });
    }
  };
  for (const c of chunks) {
    decoder.push(c);
    take();
  }
  return out;
}
