/**
 * The FastCGI client against a small FastCGI server built from the codec:
 * GET_VALUES, multiplexing when the peer allows it, kept-alive reuse, the
 * pool bound, and malformed records.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  type CgiResult,
  createGateway,
  decodeNameValuePairs,
  encodeEndRequest,
  encodeGetValuesResult,
  encodeRecord,
  encodeStream,
  FCGI,
  FcgiDecoder,
} from "../src/index.ts";

interface Peer {
  server: Server;
  address: string;
  connections: number;
  maxConcurrentOnOneConnection: number;
  getValues: number;
  /** Requests answered with FCGI_CANT_MPX_CONN. */
  refused: number;
  /** Request methods seen while another request ran on the same connection. */
  concurrentMethods: string[];
  /** BEGIN_REQUEST flags seen. */
  flags: number[];
  sockets: Set<Socket>;
}

/** A responder that answers after all STDIN arrived, delaying each answer so requests overlap. */
async function startPeer(opts: {
  mpx: boolean;
  maxConns?: number;
  garbage?: boolean;
  /** Answer FCGI_CANT_MPX_CONN to a request that arrives while another runs on the connection. */
  refuseConcurrent?: boolean;
}): Promise<Peer> {
  const peer: Peer = {
    server: createServer(),
    address: "",
    connections: 0,
    maxConcurrentOnOneConnection: 0,
    getValues: 0,
    refused: 0,
    concurrentMethods: [],
    flags: [],
    sockets: new Set(),
  };
  peer.server.on("connection", (socket) => {
    peer.sockets.add(socket);
    socket.on("close", () => peer.sockets.delete(socket));
    socket.on("error", () => {});
    const decoder = new FcgiDecoder();
    const params = new Map<number, Uint8Array[]>();
    const open = new Set<number>();
    const refused = new Set<number>();
    let counted = false;
    socket.on("data", (chunk: Uint8Array) => {
      for (const r of decoder.push(chunk).records) {
        if (r.type === "get-values") {
          peer.getValues++;
          const answer: Array<[string, string]> = [["FCGI_MPXS_CONNS", opts.mpx ? "1" : "0"]];
          if (opts.maxConns) answer.push(["FCGI_MAX_CONNS", String(opts.maxConns)]);
          socket.write(encodeGetValuesResult(answer));
          continue;
        }
        if (!counted && r.type === "begin-request") {
          counted = true;
          peer.connections++;
        }
        if (r.type === "begin-request" && opts.refuseConcurrent && open.size > 0) {
          peer.refused++;
          refused.add(r.requestId);
          socket.write(encodeEndRequest(r.requestId, 0, FCGI.CANT_MPX_CONN));
          continue;
        }
        if (refused.has(r.requestId)) {
          if (r.type === "stdin" && r.data.length === 0) refused.delete(r.requestId);
          continue;
        }
        if (r.type === "begin-request") {
          peer.flags.push(r.flags);
          open.add(r.requestId);
          peer.maxConcurrentOnOneConnection = Math.max(peer.maxConcurrentOnOneConnection, open.size);
          params.set(r.requestId, []);
        } else if (r.type === "params") params.get(r.requestId)?.push(r.data.slice());
        else if (r.type === "stdin" && r.data.length === 0) {
          const id = r.requestId;
          const all = params.get(id)!;
          const bytes = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of all) {
            bytes.set(p, at);
            at += p.length;
          }
          const env = new Map(decodeNameValuePairs(bytes)!);
          if (open.size > 1) peer.concurrentMethods.push(env.get("REQUEST_METHOD") ?? "");
          setTimeout(() => {
            if (opts.garbage) {
              socket.write(new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]));
              return;
            }
            const body = `id=${id} uri=${env.get("REQUEST_URI")}`;
            socket.write(
              encodeStream(FCGI.STDOUT, id, new TextEncoder().encode(`Content-Type: text/plain\r\n\r\n${body}`)),
            );
            socket.write(encodeRecord(FCGI.STDOUT, id));
            socket.write(encodeEndRequest(id, 0, FCGI.REQUEST_COMPLETE));
            open.delete(id);
          }, 20);
        }
      }
    });
  });
  await new Promise<void>((r) => peer.server.listen(0, "127.0.0.1", r));
  const addr = peer.server.address() as { port: number };
  peer.address = `127.0.0.1:${addr.port}`;
  return peer;
}

async function stopPeer(peer: Peer) {
  for (const s of peer.sockets) s.destroy();
  await new Promise((r) => peer.server.close(r));
}

async function text(r: CgiResult): Promise<string> {
  assert.equal(r.type, "response");
  if (r.type !== "response") return "";
  let s = "";
  for await (const c of r.body) s += new TextDecoder().decode(c);
  return s;
}

describe("FastCGI pool", () => {
  const dir = mkdtempSync(join(tmpdir(), "wirehouse-fcgi-pool-"));
  writeFileSync(join(dir, "a.php"), "");
  const gateway = createGateway({ log: () => {} });
  after(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const req = (i: number) => ({ method: "GET", target: `/a.php?i=${i}`, headers: [] });

  it("multiplexes requests on one connection when the peer says FCGI_MPXS_CONNS=1", async () => {
    const peer = await startPeer({ mpx: true });
    try {
      const site = gateway.site({ root: dir, match: ".php", fastcgi: { address: peer.address, maxConnections: 4 } });
      const out = await Promise.all(Array.from({ length: 20 }, (_, i) => site.handle(req(i)).then(text)));
      for (const [i, t] of out.entries()) assert.match(t, new RegExp(`uri=/a.php\\?i=${i}$`));
      assert.equal(peer.getValues, 1);
      assert.equal(peer.connections, 1);
      assert.ok(peer.maxConcurrentOnOneConnection > 1);
      assert.equal(gateway.pool(peer.address)?.info.multiplex, true);
    } finally {
      await stopPeer(peer);
    }
  });

  it("one request per connection without multiplexing, bounded by maxConnections and FCGI_MAX_CONNS, kept alive", async () => {
    const peer = await startPeer({ mpx: false, maxConns: 3 });
    try {
      const site = gateway.site({
        root: dir,
        match: ".php",
        fastcgi: { address: peer.address, maxConnections: 5, pipeline: 1 },
      });
      const out = await Promise.all(Array.from({ length: 12 }, (_, i) => site.handle(req(i)).then(text)));
      for (const [i, t] of out.entries()) assert.match(t, new RegExp(`i=${i}$`));
      assert.equal(peer.maxConcurrentOnOneConnection, 1);
      assert.equal(peer.connections, 3);
      assert.equal(gateway.pool(peer.address)?.info.maxConnections, 3);
      // Kept alive: later requests reuse the same connections.
      await site.handle(req(99)).then(text);
      assert.equal(peer.connections, 3);
    } finally {
      await stopPeer(peer);
    }
  });

  it("pipelines GETs by default (two per connection at most), never a POST", async () => {
    const peer = await startPeer({ mpx: false, maxConns: 2 });
    try {
      const site = gateway.site({ root: dir, match: ".php", fastcgi: { address: peer.address } });
      const post = (i: number) => ({
        method: "POST",
        target: `/a.php?i=${i}`,
        headers: [["Content-Length", "2"]] as Array<[string, string]>,
        body: new TextEncoder().encode("ab"),
      });
      // One request first (script lookup cached, peer probed), so the batch reaches the pool at once.
      assert.match(await site.handle(req(-1)).then(text), /i=-1$/);
      const out = await Promise.all(
        Array.from({ length: 16 }, (_, i) => site.handle(i % 4 === 3 ? post(i) : req(i)).then(text)),
      );
      for (const [i, t] of out.entries()) assert.match(t, new RegExp(`i=${i}$`));
      assert.equal(peer.connections, 2);
      assert.equal(peer.maxConcurrentOnOneConnection, 2);
      assert.ok(peer.concurrentMethods.length > 0);
      // A request is only ever queued behind another if it is safe to send again.
      assert.ok(peer.concurrentMethods.every((m) => m === "GET"));
    } finally {
      await stopPeer(peer);
    }
  });

  it("a peer that refuses a pipelined request (FCGI_CANT_MPX_CONN): it is sent again alone, pipelining stops", async () => {
    const peer = await startPeer({ mpx: false, maxConns: 2, refuseConcurrent: true });
    const logs: string[] = [];
    const gw = createGateway({ log: (_, m) => logs.push(m) });
    try {
      const site = gw.site({ root: dir, match: ".php", fastcgi: { address: peer.address } });
      assert.match(await site.handle(req(-1)).then(text), /i=-1$/);
      const out = await Promise.all(Array.from({ length: 12 }, (_, i) => site.handle(req(i)).then(text)));
      for (const [i, t] of out.entries()) assert.match(t, new RegExp(`i=${i}$`));
      assert.ok(peer.refused >= 1);
      assert.ok(logs.some((l) => /pipelining off/.test(l)));
      // Afterwards one request per connection at a time.
      const refusedBefore = peer.refused;
      await Promise.all(Array.from({ length: 8 }, (_, i) => site.handle(req(100 + i)).then(text)));
      assert.equal(peer.refused, refusedBefore);
    } finally {
      await gw.close();
      await stopPeer(peer);
    }
  });

  it("keepAlive: false opens a connection per request and clears FCGI_KEEP_CONN", async () => {
    const peer = await startPeer({ mpx: true });
    try {
      const site = gateway.site({
        root: dir,
        match: ".php",
        fastcgi: { address: peer.address, keepAlive: false, maxConnections: 3 },
      });
      const out = await Promise.all(Array.from({ length: 7 }, (_, i) => site.handle(req(i)).then(text)));
      for (const [i, t] of out.entries()) assert.match(t, new RegExp(`i=${i}$`));
      assert.equal(peer.connections, 7);
      assert.equal(peer.maxConcurrentOnOneConnection, 1);
      assert.deepEqual([...new Set(peer.flags)], [0]);
      // keepAlive false never multiplexes, so the peer is not even asked.
      assert.equal(peer.getValues, 0);
    } finally {
      await stopPeer(peer);
    }
  });

  it("malformed records from the peer give 502", async () => {
    const peer = await startPeer({ mpx: false, garbage: true });
    try {
      const site = gateway.site({ root: dir, match: ".php", fastcgi: { address: peer.address } });
      const r = await site.handle(req(1));
      assert.equal(r.type, "error");
      if (r.type === "error") {
        assert.equal(r.status, 502);
        assert.match(r.message, /malformed FastCGI/);
      }
    } finally {
      await stopPeer(peer);
    }
  });
});
