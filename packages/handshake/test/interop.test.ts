/**
 * Interop over loopback with the `ws` library (a real, independent
 * implementation): its client against our server handshake, and our client
 * handshake against its server. Port 0, 127.0.0.1, everything closed after.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { errorResponse, HttpError } from "../src/errors.ts";
import { type HeadResult, RequestParser, type ResponseHead, ResponseParser } from "../src/head-parser.ts";
import { sha1 } from "../src/node/sha1.ts";
import { findDeflate, perMessageDeflate, perMessageDeflateClient } from "../src/permessage-deflate.ts";
import type { RequestHead } from "../src/request-head.ts";
import { createClientHandshake, validateServerHandshake } from "../src/websocket-client.ts";
import { acceptWebSocket, negotiateWebSocket } from "../src/websocket-server.ts";

describe("interop with ws over loopback", () => {
  it("ws's client opens a connection through our server handshake (subprotocol, permessage-deflate)", async () => {
    const seen: { origin?: string; deflate?: boolean } = {};
    const sockets = new Set<Socket>();
    const server = createServer((socket: Socket) => {
      sockets.add(socket);
      const parser = new RequestParser();
      socket.on("data", (chunk: Uint8Array) => {
        const r: HeadResult<RequestHead> = parser.push(chunk);
        if (r.kind === "need-more") return;
        if (r.kind === "error") {
          socket.end(errorResponse(r.error));
          return;
        }
        const upgrade = negotiateWebSocket(r.head, { protocols: ["b", "a"], extensions: [perMessageDeflate()] });
        if (upgrade instanceof HttpError) {
          socket.end(errorResponse(upgrade));
          return;
        }
        seen.origin = upgrade.origin;
        seen.deflate = findDeflate(upgrade.extensions) !== undefined;
        socket.write(acceptWebSocket(upgrade, { sha1, headers: [["X-Hello", "1"]] }));
        socket.removeAllListeners("data");
      });
      socket.on("error", () => {});
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const client = new WebSocket(`ws://127.0.0.1:${port}/chat`, ["a", "b"], { origin: "http://example.test" });
    // ws emits "upgrade" and "open" in the same tick: listen for both before awaiting.
    const upgraded = once(client, "upgrade");
    const opened = once(client, "open");
    try {
      const [response] = (await upgraded) as [{ headers: Record<string, string> }];
      await opened;
      assert.equal(client.protocol, "b");
      assert.match(client.extensions, /permessage-deflate/);
      assert.equal(response.headers["x-hello"], "1");
      assert.deepEqual(seen, { origin: "http://example.test", deflate: true });
    } finally {
      client.terminate();
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    }
  });

  it("ws's client sees our 426 when it asks for another version", async () => {
    const server = createServer((socket: Socket) => {
      const parser = new RequestParser();
      socket.on("data", (chunk: Uint8Array) => {
        const r = parser.push(chunk);
        if (r.kind !== "head") return;
        const upgrade = negotiateWebSocket(r.head);
        socket.end(upgrade instanceof HttpError ? errorResponse(upgrade) : acceptWebSocket(upgrade));
      });
      socket.on("error", () => {});
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { protocolVersion: 8 });
    client.on("error", () => {}); // terminating a connection that never opened reports an error
    try {
      const [, res] = (await once(client, "unexpected-response")) as [
        unknown,
        { statusCode: number; headers: Record<string, string> },
      ];
      assert.equal(res.statusCode, 426);
      assert.equal(res.headers["sec-websocket-version"], "13");
    } finally {
      client.terminate();
      server.close();
      await once(server, "close");
    }
  });

  it("our client handshake is accepted by ws's server", async () => {
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      perMessageDeflate: true,
      handleProtocols: () => "p2",
    });
    await once(wss, "listening");
    const port = (wss.address() as AddressInfo).port;
    const socket = connect(port, "127.0.0.1");
    try {
      await once(socket, "connect");
      const hs = createClientHandshake({
        host: `127.0.0.1:${port}`,
        protocols: ["p1", "p2"],
        extensions: [perMessageDeflateClient()],
        sha1,
      });
      socket.write(hs.request);
      const parser = new ResponseParser();
      let head: ResponseHead | undefined;
      while (head === undefined) {
        const [chunk] = (await once(socket, "data")) as [Uint8Array];
        const r = parser.push(chunk);
        if (r.kind === "error") assert.fail(r.error.message);
        if (r.kind === "head") head = r.head;
      }
      const result = validateServerHandshake(hs, head);
      assert.equal(result.protocol, "p2");
      assert.ok(findDeflate(result.extensions));
    } finally {
      socket.destroy();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await once(wss, "close");
    }
  });
});
