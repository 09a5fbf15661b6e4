/**
 * Time-bounded fuzzing of the FastCGI record decoder and the CGI response
 * parser: mutated valid streams and raw garbage, fed in random chunks.
 * Invariants: no throw, no hang, a typed error or records; valid streams
 * decode to what was encoded.
 *
 *   npm run fuzz -w @wirehouse/cgi -- --seconds 60 [--seed N]
 */

import { fuzzOptions, prng } from "../../../scripts/fuzz-kit.ts";
import {
  encodeBeginRequest,
  encodeEndRequest,
  encodeGetValuesResult,
  encodeParams,
  encodeStream,
  FCGI,
  FcgiDecoder,
  FcgiProtocolError,
  OutputChannel,
  readResponse,
} from "../src/index.ts";

const { seconds, seed } = fuzzOptions(process.argv.slice(2), 10);
const rand = prng(seed);
const int = (n: number) => Math.floor(rand() * n);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function validStream(): { wire: Uint8Array; stdout: Uint8Array } {
  const parts: Uint8Array[] = [];
  const out: Uint8Array[] = [];
  for (let i = int(8); i >= 0; i--) {
    switch (int(5)) {
      case 0:
        parts.push(encodeBeginRequest(1 + int(65535), int(4), int(2)));
        break;
      case 1: {
        const d = bytes(int(4) === 0 ? int(140_000) : int(600));
        out.push(d);
        parts.push(encodeStream(FCGI.STDOUT, 1, d));
        break;
      }
      case 2:
        parts.push(encodeParams(1 + int(10), [[String(int(1e9)), "x".repeat(int(300))]]));
        break;
      case 3:
        parts.push(encodeEndRequest(1 + int(100), int(2 ** 31), int(4)));
        break;
      default:
        parts.push(encodeGetValuesResult([["FCGI_MPXS_CONNS", String(int(2))]]));
    }
  }
  return { wire: concat(parts), stdout: concat(out) };
}

function feed(wire: Uint8Array): { stdout: Uint8Array[]; error: FcgiProtocolError | null } {
  const d = new FcgiDecoder();
  const stdout: Uint8Array[] = [];
  let at = 0;
  while (at < wire.length) {
    const n = 1 + int(Math.min(wire.length - at, int(3) === 0 ? 7 : 70_000));
    const r = d.push(wire.subarray(at, at + n));
    for (const rec of r.records) if (rec.type === "stdout" && rec.requestId === 1) stdout.push(rec.data.slice());
    if (r.error) {
      if (!(r.error instanceof FcgiProtocolError)) throw new Error("untyped decoder error");
      return { stdout, error: r.error };
    }
    at += n;
  }
  return { stdout, error: null };
}

function equal(a: Uint8Array, b: Uint8Array) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const heads = [
  "Status: 200 OK",
  "Content-Type: text/html",
  "Location: /x",
  "Location: http://e/",
  "X: y",
  "Status: 99",
  "bad line",
  "",
];

async function fuzzHead(): Promise<void> {
  const out = new OutputChannel(
    () => {},
    () => {},
  );
  const text = Array.from({ length: int(6) }, () => heads[int(heads.length)]).join(int(2) ? "\r\n" : "\n");
  const raw = concat([
    new TextEncoder().encode(text),
    int(2) ? new TextEncoder().encode("\r\n\r\nbody") : bytes(int(64)),
  ]);
  let at = 0;
  while (at < raw.length) {
    const n = 1 + int(raw.length - at);
    out.push(raw.slice(at, at + n));
    at += n;
  }
  if (int(3) === 0) out.fail("crash", "fuzz");
  else out.end();
  const r = await readResponse(out, { maxHeaderBytes: 256, cancel: () => {} });
  if (r.type === "response") {
    try {
      for await (const _ of r.body);
    } catch {}
  } else if (r.type === "error" && r.status !== 502 && r.status !== 504)
    throw new Error(`unexpected status ${r.status}`);
}

const deadline = Date.now() + seconds * 1000;
let cases = 0;
let errors = 0;
try {
  while (Date.now() < deadline) {
    for (let k = 0; k < 50; k++) {
      cases++;
      const { wire, stdout } = validStream();
      const mode = int(4);
      if (mode === 0) {
        const got = feed(wire);
        if (got.error) throw new Error(`valid stream refused: ${got.error.message}`);
        if (!equal(concat(got.stdout), stdout)) throw new Error("valid stream decoded to different STDOUT bytes");
      } else if (mode === 1) {
        const m = wire.slice();
        for (let i = int(8); i >= 0 && m.length > 0; i--) m[int(m.length)] = int(256);
        if (feed(m).error) errors++;
      } else if (mode === 2) {
        if (feed(bytes(int(2000))).error) errors++;
      } else {
        await fuzzHead();
      }
    }
  }
} catch (err) {
  console.error(`FAILED after ${cases} cases (seed ${seed}): ${(err as Error).stack}`);
  process.exit(1);
}
console.log(`fastcgi fuzz: ${cases} cases in ${seconds}s, ${errors} typed protocol errors, no crash (seed ${seed})`);
