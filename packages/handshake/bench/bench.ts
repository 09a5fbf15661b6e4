/**
 * Micro-benchmarks: parsed request heads per second for a browser upgrade
 * request and a 12-header GET, and WebSocket upgrade responses built per
 * second, each next to a peer measured in the same process:
 *   - the runtime's own node:http parser through process.binding('http_parser')
 *     (on Node the llhttp object node:http drives; Deno and Bun expose their
 *     node-compat HTTPParser the same way), when it is reachable;
 *   - for responses, what `ws` does per handshake (node:crypto SHA-1 to
 *     base64, header strings joined, encoded).
 *
 *   npm run bench -w @wirehouse/handshake          (Node)
 *   npx deno run -A packages/handshake/bench/bench.ts
 *   npx bun packages/handshake/bench/bench.ts
 */
import { createHash } from "node:crypto";
import { RequestParser } from "../src/head-parser.ts";
import { sha1 as nodeSha1 } from "../src/node/sha1.ts";
import { perMessageDeflate } from "../src/permessage-deflate.ts";
import type { RequestHead } from "../src/request-head.ts";
import { sha1 as pureSha1 } from "../src/sha1.ts";
import { acceptWebSocket, negotiateWebSocket } from "../src/websocket-server.ts";
import { chromium, get12 } from "../test/fixtures/browsers.ts";
import { compareCpuMicros } from "./cpu-timing.ts";

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : g.Bun ? `Bun ${g.Bun.version}` : `Node ${process.version}`;
const enc = new TextEncoder();
const upgradeBytes = enc.encode(chromium.raw);
const getBytes = enc.encode(get12);

let sink = 0;

/**
 * Median operations per CPU-second of each function (see compareCpuMicros: a
 * warm-up, then `runs` rounds in which the functions take turns).
 */
function compare(fns: (() => void)[], runs = 7, ms = 250): number[] {
  return compareCpuMicros(fns, runs, ms).map((us) => 1e6 / us);
}

const rows: [string, string, number][] = [];
function row(group: string, name: string, rate: number) {
  rows.push([group, name, rate]);
  console.log(`${group.padEnd(34)} ${name.padEnd(50)} ${Math.round(rate).toLocaleString("en-US").padStart(12)} /s`);
}

// --- Our parser: one parser per connection, reused for every head (what a server does).
function oursParse(input: Uint8Array) {
  const parser = new RequestParser();
  return () => {
    const r = parser.push(input);
    if (r.kind !== "head") throw new Error("parse failed");
    sink += r.head.headers.size;
  };
}

// --- Node's llhttp binding, driven like node:http's server does.
type Binding = {
  new (): {
    initialize(type: number, resource: object): void;
    execute(b: Uint8Array): number | Error;
    [k: number]: unknown;
  };
  REQUEST: number;
  kOnHeadersComplete: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kOnHeaders: number;
  kOnBody: number;
};
function nodeBinding(): Binding | undefined {
  try {
    const proc = process as unknown as { binding(name: string): { HTTPParser: Binding } };
    const emit = process.emitWarning;
    process.emitWarning = () => {}; // the deprecation warning is expected here
    try {
      const P = proc.binding("http_parser").HTTPParser;
      // Check that it parses before trusting it as a peer.
      let seen = 0;
      const probe = new P();
      probe.initialize(P.REQUEST, {});
      probe[P.kOnHeadersComplete] = () => {
        seen++;
      };
      probe[P.kOnMessageComplete] = () => {};
      probe[P.kOnExecute] = () => {};
      probe[P.kOnHeaders] = () => {};
      probe[P.kOnBody] = () => {};
      probe.execute(typeof Buffer !== "undefined" ? Buffer.from(getBytes) : getBytes);
      return seen === 1 ? P : undefined;
    } finally {
      process.emitWarning = emit;
    }
  } catch {
    return undefined;
  }
}
const HTTPParser = nodeBinding();

function nodeParse(input: Uint8Array, upgrade: boolean) {
  const P = HTTPParser!;
  const parser = new P();
  parser.initialize(P.REQUEST, {});
  parser[P.kOnHeadersComplete] = (_maj: number, _min: number, headers: string[]) => {
    sink += headers.length;
  };
  parser[P.kOnMessageComplete] = () => {};
  parser[P.kOnExecute] = () => {};
  parser[P.kOnHeaders] = () => {};
  parser[P.kOnBody] = () => {};
  // llhttp stops after an upgrade request, so it is re-initialised for each one
  // (node:http hands the socket away after an upgrade anyway); keep-alive GETs run back to back.
  const buf = typeof Buffer !== "undefined" ? Buffer.from(input) : input;
  return () => {
    if (upgrade) parser.initialize(P.REQUEST, {});
    const r = parser.execute(buf);
    if (typeof r !== "number") throw r;
  };
}

// --- Upgrade responses.
const head = (new RequestParser().push(upgradeBytes) as { head: RequestHead }).head;
const deflate = [perMessageDeflate()];
function oursAccept(sha1: typeof pureSha1, extensions: boolean) {
  const options = extensions ? { sha1, extensions: deflate } : { sha1 };
  return () => {
    const u = negotiateWebSocket(head, options);
    if (u instanceof Error) throw u;
    sink += acceptWebSocket(u, { sha1 }).length;
  };
}
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
function wsStyleAccept() {
  return () => {
    const key = head.headers.first("sec-websocket-key")!;
    const digest = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    const lines = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${digest}`,
    ];
    sink += enc.encode(lines.concat("\r\n").join("\r\n")).length;
  };
}

console.log(`@wirehouse/handshake bench on ${runtime} (median of 7 interleaved runs, operations per CPU-second)\n`);
function group(name: string, cases: [string, (() => void) | undefined][]) {
  const present = cases.filter((c): c is [string, () => void] => c[1] !== undefined);
  const rates = compare(present.map((c) => c[1]));
  for (let i = 0; i < present.length; i++) row(name, present[i]![0], rates[i]!);
}
const LLHTTP = g.Deno
  ? "Deno's node-compat HTTPParser (process.binding)"
  : g.Bun
    ? "Bun's node-compat HTTPParser (process.binding)"
    : "node llhttp (process.binding http_parser)";
group("parse: browser upgrade (Chromium)", [
  ["ours (RequestParser.push)", oursParse(upgradeBytes)],
  [LLHTTP, HTTPParser ? nodeParse(upgradeBytes, true) : undefined],
]);
group("parse: GET with 12 headers", [
  ["ours (RequestParser.push)", oursParse(getBytes)],
  [LLHTTP, HTTPParser ? nodeParse(getBytes, false) : undefined],
]);
group("upgrade response built", [
  ["ours, pure-JS SHA-1", oursAccept(pureSha1, false)],
  ["ours, node:crypto SHA-1", oursAccept(nodeSha1, false)],
  ["ours, pure-JS SHA-1 + permessage-deflate", oursAccept(pureSha1, true)],
  ["ws-style (node:crypto, strings)", wsStyleAccept()],
]);
if (!HTTPParser) console.log("\n(Node's HTTP parser is not reachable on this runtime: our side only.)");
if (sink === 42) console.log("");
