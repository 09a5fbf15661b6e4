/**
 * The whole server side of one WebSocket opening handshake, as the
 * benchmark server does it per connection, for the load generator's request
 * (`buildUpgradeRequest` in benchmarks/src/handshake.ts: Host, Upgrade,
 * Connection, Sec-WebSocket-Key, Sec-WebSocket-Version):
 *   new RequestParser → push → isWebSocketRequest → negotiateWebSocket(head, {})
 *   → acceptWebSocket(up, {})
 * and each step alone, in CPU-microseconds per handshake (process.cpuUsage;
 * median of 7 interleaved runs). Also the Chromium upgrade request for contrast.
 *
 *   node --import tsx packages/handshake/bench/handshake.ts
 *   npx deno run -A packages/handshake/bench/handshake.ts
 *   npx bun packages/handshake/bench/handshake.ts
 */
import * as crypto from "node:crypto";
import { buildUpgradeRequest } from "../../../benchmarks/src/handshake.ts";
import { HttpError } from "../src/errors.ts";
import { RequestParser } from "../src/head-parser.ts";
import { sha1 as nodeSha1 } from "../src/node/sha1.ts";
import type { RequestHead } from "../src/request-head.ts";
import { sha1 as pureSha1 } from "../src/sha1.ts";
import { acceptWebSocket, isWebSocketRequest, negotiateWebSocket } from "../src/websocket-server.ts";
import { chromium } from "../test/fixtures/browsers.ts";
import { compareCpuMicros } from "./cpu-timing.ts";

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : g.Bun ? `Bun ${g.Bun.version}` : `Node ${process.version}`;
const loadRequest = buildUpgradeRequest("ws://127.0.0.1:9001/");
const chromiumRequest = new TextEncoder().encode(chromium.raw);

let sink = 0;

const compare = compareCpuMicros;

/** The full handshake: a fresh parser per connection, as the server makes one. */
function full(input: Uint8Array, sha1?: typeof pureSha1) {
  const accept = sha1 === undefined ? {} : { sha1 };
  return () => {
    const r = new RequestParser().push(input);
    if (r.kind !== "head" || !isWebSocketRequest(r.head)) throw new Error("not an upgrade");
    const up = negotiateWebSocket(r.head, {});
    if (up instanceof HttpError) throw up;
    sink += acceptWebSocket(up, accept).length;
  };
}

/**
 * The SHA-1 @wirehouse/server picks (packages/server/src/server.ts): Bun.SHA1 on Bun, the one-shot
 * crypto.hash on Node (what `/sha1-node` now uses too), the pure-JS one on Deno.
 */
function serverSha1(): typeof pureSha1 {
  const bun = (globalThis as { Bun?: { SHA1?: { hash?(data: Uint8Array, into: Uint8Array): Uint8Array } } }).Bun?.SHA1;
  if (typeof bun?.hash === "function") {
    const digest = new Uint8Array(20);
    return (data) => {
      bun.hash!(data, digest);
      return digest;
    };
  }
  if (g.Deno) return pureSha1;
  const hash = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: "buffer") => Uint8Array }).hash;
  return typeof hash === "function" ? (data) => hash("sha1", data, "buffer") : nodeSha1;
}

/** The same with the options and SHA-1 @wirehouse/server uses, and its Origin check. */
function asServer(input: Uint8Array) {
  const sha1 = serverSha1();
  const kind = { protocols: undefined, negotiators: undefined };
  const v = undefined as { headers?: [string, string][]; protocol?: string } | undefined;
  return () => {
    const r = new RequestParser().push(input);
    if (r.kind !== "head" || !isWebSocketRequest(r.head)) throw new Error("not an upgrade");
    const head = r.head;
    if (head.origin !== undefined) sink++;
    const up = negotiateWebSocket(head, { protocols: kind.protocols, extensions: kind.negotiators, sha1 });
    if (up instanceof HttpError) throw up;
    sink += acceptWebSocket(up, { headers: v?.headers, protocol: v?.protocol, sha1 }).length;
  };
}

const parsed = (input: Uint8Array) => (new RequestParser().push(input) as { head: RequestHead }).head;
const loadHead = parsed(loadRequest);
const loadUp = negotiateWebSocket(loadHead, {});
if (loadUp instanceof HttpError) throw loadUp;

const cases: [string, () => void][] = [
  ["full handshake, load request, pure-JS SHA-1", full(loadRequest)],
  ["full handshake, load request, as @wirehouse/server", asServer(loadRequest)],
  ["full handshake, load request, /sha1-node SHA-1", full(loadRequest, nodeSha1)],
  ["full handshake, Chromium request, pure-JS SHA-1", full(chromiumRequest)],
  [
    "  parse (new RequestParser + push)",
    () => {
      const r = new RequestParser().push(loadRequest);
      if (r.kind === "head") sink += r.consumed;
    },
  ],
  [
    "  isWebSocketRequest + negotiateWebSocket",
    () => {
      if (!isWebSocketRequest(loadHead)) throw new Error("not an upgrade");
      const up = negotiateWebSocket(loadHead, {});
      if (up instanceof HttpError) throw up;
      sink += up.key.length;
    },
  ],
  ["  acceptWebSocket (pure-JS SHA-1)", () => (sink += acceptWebSocket(loadUp, {}).length)],
];

console.log(`server-side handshake on ${runtime} (CPU µs per handshake, median of 7 interleaved runs)\n`);
const times = compare(cases.map((c) => c[1]));
for (let i = 0; i < cases.length; i++) {
  console.log(`${cases[i]![0].padEnd(52)} ${times[i]!.toFixed(3).padStart(8)} µs`);
}
if (sink === 42) console.log("");
